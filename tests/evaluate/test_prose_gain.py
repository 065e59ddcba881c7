"""A classifier trained with the real-prose corpus ranks the third-party dev set better.

This is the claim the corpus exists for: the dev set (verbatim sentences from ``../shared``, written
by nobody on this project) is out of distribution for StoryWorld and the corpus alike, so a gain
there is a gain in understanding prose, not in matching the corpus's register. Both classifiers are
the recipe's (``nines.recipes.data.build_run_data`` and ``train_classifier``, one epoch from the
embedded MiniLM, same seeds and StoryWorld rows), as in ``benchmarks/generalization.py``'s
``baseline`` and ``prose-x2`` rows, and differ only by ``data.prose_oversample``.

A budget matters: at 60 optimiser steps each (batch 32, 400 StoryWorld rows) the corpus *lowered*
dev-set AUC (0.719 without, 0.685 with), so the gain needs a full pass over the mixed data. That is
why this test trains for one epoch and is marked slow (about 5-8 minutes on 2 idle cores).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nines.classify.train import TrainConfig, train_classifier
from nines.data.devset import load_devset, to_snippets
from nines.data.record import Snippet
from nines.evaluate.prose_eval import roc_auc
from nines.recipes.data import DataConfig, build_run_data
from nines.storyworld import StoryWorld

# Two one-epoch trainings: minutes alone, far longer on busy cores than the suite's 600 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def _dev_auc(clf: object, dev: list[Snippet]) -> float:
    scores = clf.score([s.prompt for s in dev], [s.completion for s in dev])  # type: ignore[attr-defined]
    auc = roc_auc(np.asarray(scores), np.array([bool(s.is_injurious) for s in dev]))
    assert auc is not None
    return auc


def _train(prose_oversample: int, out: Path) -> object:
    cfg = replace(DataConfig(n_train=1500, n_val=500), prose_oversample=prose_oversample)
    data = build_run_data(StoryWorld(seed=0), cfg, seed=0)
    tc = TrainConfig(epochs=1.0, checkpoint_every=0, seed=0)
    return train_classifier(data.train, data.val, tc, out_dir=out, progress=False).classifier


@pytest.mark.usefixtures("shared_dir")
def test_prose_corpus_beats_no_prose_on_the_dev_set(tmp_path: Path) -> None:
    dev = to_snippets(load_devset())
    assert sum(bool(s.is_injurious) for s in dev) >= 100  # the set is big enough to rank by
    auc_without = _dev_auc(_train(0, tmp_path / "without"), dev)
    auc_with = _dev_auc(_train(2, tmp_path / "with"), dev)
    # benchmarks/generalization.py and CI both measured 0.731 -> 0.749 for these two recipes once the
    # corpus's val batches were held out for calibration (0.722 -> 0.760 when they were trained on).
    # The gain is small, and the margin is set below it on purpose: the claim is that the corpus helps
    # on third-party text at all, not that it closes the gap to the 0.90 goal (it does not).
    assert auc_with > auc_without + 0.01, (auc_without, auc_with)
