"""Count classifier queries and wall time: attack cost is measured in both."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from nines.classify.base import Classifier


class QueryBudgetExceeded(RuntimeError):
    """Raised by :class:`CountingClassifier` when a call would go past its query budget."""


class CountingClassifier:
    """Wraps a classifier and counts every snippet it scores (one snippet = one query).

    Args:
        inner: the classifier under attack.
        budget: maximum number of snippets that may be scored; ``None`` for no limit. A call that
            would exceed it raises :class:`QueryBudgetExceeded` and scores nothing, so an attack
            stops exactly at its budget.
    """

    def __init__(self, inner: Classifier, budget: int | None = None) -> None:
        if budget is not None and budget < 0:
            raise ValueError(f"budget must be a non-negative number of queries or None, got {budget!r}")
        self.inner = inner
        self.budget = budget
        self.queries = 0
        self.calls = 0
        self.started = time.perf_counter()

    @property
    def threshold(self) -> float:
        return float(self.inner.threshold)

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.inner.threshold = value

    @property
    def remaining(self) -> int | None:
        """Queries left, or ``None`` when unlimited."""
        return None if self.budget is None else self.budget - self.queries

    @property
    def seconds(self) -> float:
        """Wall time since construction (or the last :meth:`reset`)."""
        return time.perf_counter() - self.started

    def reset(self) -> None:
        """Zero the counters and restart the clock."""
        self.queries = 0
        self.calls = 0
        self.started = time.perf_counter()

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """Score like the wrapped classifier, counting ``len(prompts)`` queries."""
        n = len(prompts)
        if self.budget is not None and self.queries + n > self.budget:
            raise QueryBudgetExceeded(f"query budget of {self.budget} reached ({self.queries} used)")
        self.queries += n
        self.calls += 1
        return np.asarray(self.inner.score(prompts, completions), dtype=np.float64)

    def accepts(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """Whether the filter would accept each snippet (score at or below the threshold); counted."""
        return self.score(prompts, completions) <= self.threshold
