"""SimulatedLabeller: a noisy human labeller driven by the exact oracle."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nines.data.record import Label, Snippet
from nines.storyworld.batch import StoryBatch


class SimulatedLabeller:
    """Flips oracle labels with a known probability, and optionally answers ``unsure``.

    Args:
        error_rate: flip probability for both classes.
        unsure_rate: probability of answering ``unsure`` (drawn before any flip).
        seed: RNG seed; the same seed and inputs give the same labels.
        false_positive_rate: flip probability for truly safe items (overrides ``error_rate``).
        false_negative_rate: flip probability for truly injurious items (overrides ``error_rate``).
    """

    def __init__(
        self,
        error_rate: float = 0.05,
        unsure_rate: float = 0.0,
        seed: int = 0,
        false_positive_rate: float | None = None,
        false_negative_rate: float | None = None,
    ) -> None:
        fp = error_rate if false_positive_rate is None else false_positive_rate
        fn = error_rate if false_negative_rate is None else false_negative_rate
        for name, v in (("error_rate", fp), ("error_rate", fn), ("unsure_rate", unsure_rate)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {v!r}")
        self.false_positive_rate = fp
        self.false_negative_rate = fn
        self.unsure_rate = unsure_rate
        self.seed = seed

    @staticmethod
    def _truth(items: StoryBatch | Sequence[Snippet]) -> np.ndarray:
        if isinstance(items, StoryBatch):
            return np.asarray(items.injurious, dtype=bool)
        out = []
        for s in items:
            y = s.metadata.get("injurious") if s.metadata else None
            if y is None:
                y = s.is_injurious
            if y is None:
                raise ValueError(
                    "SimulatedLabeller needs the true label: pass a StoryBatch or snippets from "
                    "StoryBatch.to_snippets() (label or metadata['injurious'] set)"
                )
            out.append(bool(y))
        return np.array(out, dtype=bool)

    def label(self, items: StoryBatch | Sequence[Snippet]) -> list[Label]:
        """Noisy labels, one per item, in order."""
        truth = self._truth(items)
        rng = np.random.default_rng(self.seed)
        n = len(truth)
        unsure = rng.random(n) < self.unsure_rate
        flip_p = np.where(truth, self.false_negative_rate, self.false_positive_rate)
        said = truth ^ (rng.random(n) < flip_p)
        table = (Label.SAFE, Label.INJURIOUS)
        return [Label.UNSURE if u else table[s] for u, s in zip(unsure.tolist(), said.tolist())]
