"""The ``Classifier`` protocol: anything that gives a calibrated p(injurious) per snippet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Classifier(Protocol):
    """Scores (prompt, completion) pairs.

    Attributes:
        threshold: the filter rejects a snippet whose score is strictly above this value.
    """

    threshold: float

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """Calibrated probability that each completion is injurious, shape ``(len(prompts),)``."""
        ...
