"""Shared fixtures for adversarial tests: deliberately weak classifiers that attacks must beat.

* :class:`KeywordClassifier` is a black-box classifier whose score is fixed by a few injury words, so
  attack behaviour can be asserted exactly.
* ``weak_encoder`` is a tiny (2-layer, 32-wide) BERT trained a few dozen steps on StoryWorld: a real
  white-box :class:`EncoderClassifier` for gradient saliency and HotFlip, built in a few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from nines.classify.encoder import EncoderClassifier
from nines.classify.train import TrainConfig, train_classifier
from nines.storyworld import StoryWorld

#: Default keyword weights: the score is the largest weight among the words present (0.05 if none).
KEYWORDS: dict[str, float] = {"stabbed": 0.95, "bleeding": 0.9, "knifed": 0.8, "slashed": 0.7, "poked": 0.3}


class KeywordClassifier:
    """Scores a snippet by the injury words it contains: ``max`` of their weights, else ``floor``.

    A keyword right after a negator ("never stabbed") does not count. Every snippet scored is counted
    in ``seen`` (and every call in ``calls``) so tests can check batching and budgets from the inside.
    """

    def __init__(self, weights: Mapping[str, float] = KEYWORDS, threshold: float = 0.5,
                 floor: float = 0.05, negators: Sequence[str] = ("never", "not")) -> None:
        self.weights = dict(weights)
        self.threshold = threshold
        self.floor = floor
        self.negators = set(negators)
        self.seen = 0
        self.calls = 0

    def score_one(self, text: str) -> float:
        """The score of one piece of text."""
        words = re.findall(r"[a-z']+", text.lower())
        hits = [self.weights[w] for i, w in enumerate(words)
                if w in self.weights and not (i > 0 and words[i - 1] in self.negators)]
        return max(hits, default=self.floor)

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        self.seen += len(prompts)
        self.calls += 1
        return np.array([self.score_one(p + " " + c) for p, c in zip(prompts, completions)], dtype=np.float64)


class DictSource:
    """A candidate source with fixed answers: ``subs[word]`` and ``ins[previous word]`` (lower case)."""

    def __init__(self, subs: Mapping[str, list[str]], ins: Mapping[str, list[str]] | None = None) -> None:
        self.subs = {k.lower(): v for k, v in subs.items()}
        self.ins = {k.lower(): v for k, v in (ins or {}).items()}

    def substitutes(self, words: list[str], index: int, k: int) -> list[str]:
        return self.subs.get(re.sub(r"\W", "", words[index]).lower(), [])[:k]

    def insertions(self, words: list[str], index: int, k: int) -> list[str]:
        prev = re.sub(r"\W", "", words[index - 1]).lower() if index > 0 else ""
        return self.ins.get(prev, [])[:k]


@pytest.fixture
def keyword_clf() -> KeywordClassifier:
    """A fresh keyword classifier (its counters start at zero)."""
    return KeywordClassifier()


@pytest.fixture(scope="session")
def world_batch() -> tuple[StoryWorld, list[str], list[str], np.ndarray]:
    """A StoryWorld and a balanced sample: every injurious pair of 4000 draws plus as many safe ones."""
    world = StoryWorld()
    b = world.sample(4000, seed=11)
    y = np.asarray(b.injurious, dtype=bool)
    hurt = np.flatnonzero(y)
    safe = np.flatnonzero(~y)[: len(hurt)]
    idx = np.sort(np.concatenate([hurt, safe]))
    return world, [b.prompts[i] for i in idx], [b.completions[i] for i in idx], y[idx]


@pytest.fixture(scope="session")
def weak_encoder(tiny_encoder_dir: Path, world_batch: tuple[StoryWorld, list[str], list[str], np.ndarray]
                 ) -> EncoderClassifier:
    """The tiny BERT trained 40 steps on balanced StoryWorld pairs (weak on purpose), on CPU.

    Tests that change it must restore it (or build their own): it is shared by the session.
    """
    from nines.data.record import Label, Snippet

    _, prompts, completions, y = world_batch
    rows = [Snippet(p, c, Label.INJURIOUS if t else Label.SAFE) for p, c, t in zip(prompts, completions, y)]
    cfg = TrainConfig(backbone=str(tiny_encoder_dir), max_steps=40, batch_size=16, lr=3e-3, dropout=0.0,
                      max_length=96, eval_every=1000, patience=0, checkpoint_every=0, warmup_fraction=0.0,
                      device="cpu")
    torch.manual_seed(0)
    return train_classifier(rows, [], cfg, progress=False).classifier
