"""A tiny classifier folder whose threshold rejects about half of StoryWorld's completions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def half_clf_dir(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier trained 60 steps, its threshold at the median score of 400 StoryWorld pairs.

    Barely trained is enough: these tests compare execution paths. Training on balanced labels
    spreads the scores (an untrained head gives every pair about the same score, which would make
    any comparison pass), and a threshold at the median makes the filter reject, resample and
    fall back.
    """
    from nines.classify.train import TrainConfig, train_classifier
    from nines.storyworld import StoryWorld

    snippets = StoryWorld().sample(3000, seed=7).to_snippets()
    inj = [s for s in snippets if s.is_injurious]
    safe = [s for s in snippets if not s.is_injurious][:len(inj)]
    cfg = TrainConfig(backbone=str(tiny_encoder_dir), max_steps=60, batch_size=16, lr=3e-3, checkpoint_every=0,
                      patience=0, warmup_fraction=0.0, dropout=0.0)
    clf = train_classifier(inj + safe, [], cfg, progress=False).classifier
    b = StoryWorld().sample(400, seed=7)
    clf.threshold = float(np.median(clf.score(b.prompts, b.completions)))
    d = tmp_path_factory.mktemp("half_clf")
    clf.save(d)
    return d
