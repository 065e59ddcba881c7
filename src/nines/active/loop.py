"""A generic active-learning loop: select, label, refit, record, repeat.

The loop knows nothing about text or classifiers. It holds a pool (anything indexable by an int
array: a numpy array, a scipy CSR matrix, an object array of snippets), a ``label`` callback (an
oracle in benchmarks; in the web app the human queue plays that part through :meth:`propose` and
:meth:`add_labels`), and a ``fit``/``score`` pair of callables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from nines.active.strategies import STRATEGIES, select
from nines.classify.metrics import threshold_at_rejection

M = TypeVar("M")


@dataclass
class RoundRecord:
    """What one round left behind.

    Attributes:
        round: 0 for the initial fit, then 1, 2, ...
        n_labelled: labels held after the round (the x axis of a learning curve).
        n_positive: injurious labels among them.
        new_indices: pool indices labelled in this round (the initial set for round 0).
        new_positive: injurious labels among ``new_indices``.
        threshold: the pool threshold at the rejection budget, from the model fit after the round.
        metrics: whatever ``evaluate(model)`` returned (e.g. test recall), measured after the refit.
    """

    round: int
    n_labelled: int
    n_positive: int
    new_indices: list[int]
    new_positive: int
    threshold: float
    metrics: dict[str, float] = field(default_factory=dict)


class ActiveLearningLoop(Generic[M]):
    """Rounds of: select ``k`` pool items, label them, refit from scratch, record metrics.

    Args:
        pool: the unlabelled items, indexable by an int64 index array (``pool[idx]``).
        fit: ``fit(pool[labelled], labels) -> model``, from scratch.
        score: ``score(model, pool_or_subset) -> scores`` (probability of injurious, shape ``(n,)``).
        strategy: one of :data:`~nines.active.strategies.STRATEGIES`.
        k: labels per round.
        label: ``label(indices) -> bool array`` (True = injurious); optional when labels arrive
            through :meth:`add_labels` (a human queue).
        evaluate: ``evaluate(model) -> {name: value}``, called after every refit.
        rejection_budget: share of the pool the filter may reject; the ``redwood`` threshold is
            :func:`~nines.classify.metrics.threshold_at_rejection` of the pool scores at it.
        ensemble: members for ``disagreement`` (stratified bootstrap refits; >= 2).
        accepted_only: restrict ``disagreement`` to items the filter would accept.
        seed: seeds tie-breaks, random selection and bootstraps.
    """

    def __init__(
        self,
        pool: Any,
        fit: Callable[[Any, np.ndarray], M],
        score: Callable[[M, Any], np.ndarray],
        strategy: str,
        k: int,
        *,
        label: Callable[[np.ndarray], np.ndarray] | None = None,
        evaluate: Callable[[M], dict[str, float]] | None = None,
        rejection_budget: float = 0.05,
        ensemble: int = 5,
        accepted_only: bool = False,
        seed: int = 0,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        if strategy == "disagreement" and ensemble < 2:
            raise ValueError(f"disagreement needs an ensemble of >= 2 members, got {ensemble}")
        if not 0.0 < rejection_budget < 1.0:
            raise ValueError(f"rejection_budget must be in (0, 1), got {rejection_budget!r}")
        self.pool, self.fit, self.score = pool, fit, score
        self.strategy, self.k, self.label, self.evaluate = strategy, k, label, evaluate
        self.rejection_budget, self.ensemble, self.accepted_only = rejection_budget, ensemble, accepted_only
        self.seed = seed
        self.labelled = np.zeros(0, dtype=np.int64)
        self.labels = np.zeros(0, dtype=bool)
        self.model: M | None = None
        self.pool_scores: np.ndarray | None = None
        self.threshold = float("nan")
        self.history: list[RoundRecord] = []

    # ---- the human-queue API ----------------------------------------------------------------------
    def add_labels(self, indices: np.ndarray, labels: np.ndarray) -> None:
        """Record labels for pool items (e.g. answers from a human queue); refit separately."""
        idx = np.asarray(indices, dtype=np.int64)
        y = np.asarray(labels).astype(bool)
        if idx.shape != y.shape:
            raise ValueError(f"{len(idx)} indices but {len(y)} labels")
        if len(np.unique(idx)) != len(idx) or np.isin(idx, self.labelled).any():
            raise ValueError("indices must be distinct and not labelled already")
        self.labelled = np.concatenate([self.labelled, idx])
        self.labels = np.concatenate([self.labels, y])

    def refit(self) -> None:
        """Fit the model on all labels so far and rescore the pool."""
        if len(self.labelled) == 0:
            raise ValueError("no labels yet: add an initial labelled set first")
        self.model = self.fit(self.pool[self.labelled], self.labels)
        self.pool_scores = np.asarray(self.score(self.model, self.pool), dtype=np.float64)
        self.threshold = threshold_at_rejection(self.pool_scores, self.rejection_budget)

    def _ensemble_scores(self, rng: np.random.Generator) -> np.ndarray:
        """Pool scores of ``ensemble`` models fit on stratified bootstrap resamples of the labels."""
        pos, neg = np.flatnonzero(self.labels), np.flatnonzero(~self.labels)
        members = []
        for _ in range(self.ensemble):
            take = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]).astype(np.int64)
            model = self.fit(self.pool[self.labelled[take]], self.labels[take])
            members.append(np.asarray(self.score(model, self.pool), dtype=np.float64))
        return np.stack(members)

    def propose(self, k: int | None = None) -> np.ndarray:
        """The next pool indices to label under the loop's strategy (needs a fitted model)."""
        if self.pool_scores is None:
            raise ValueError("no model yet: call refit() (or start()) before propose()")
        rnd = len(self.history)
        rng = np.random.default_rng([self.seed, rnd])
        ens = self._ensemble_scores(rng) if self.strategy == "disagreement" else None
        use_threshold = self.strategy == "redwood" or (self.strategy == "disagreement" and self.accepted_only)
        return select(
            self.strategy,
            self.pool_scores,
            self.k if k is None else k,
            threshold=self.threshold if use_threshold else None,
            ensemble_scores=ens,
            already_labelled=self.labelled,
            seed=int(rng.integers(2**31)),
        )

    # ---- the automatic loop -----------------------------------------------------------------------
    def _label(self, idx: np.ndarray) -> np.ndarray:
        if self.label is None:
            raise ValueError("this loop has no label callback; use propose() and add_labels()")
        return np.asarray(self.label(idx)).astype(bool)

    def _record(self, new: np.ndarray, new_labels: np.ndarray) -> RoundRecord:
        assert self.model is not None
        rec = RoundRecord(
            round=len(self.history),
            n_labelled=len(self.labelled),
            n_positive=int(self.labels.sum()),
            new_indices=[int(i) for i in new],
            new_positive=int(new_labels.sum()),
            threshold=self.threshold,
            metrics=dict(self.evaluate(self.model)) if self.evaluate else {},
        )
        self.history.append(rec)
        return rec

    def start(self, initial: np.ndarray) -> RoundRecord:
        """Label the initial set, fit, and record round 0."""
        idx = np.asarray(initial, dtype=np.int64)
        y = self._label(idx)
        self.add_labels(idx, y)
        self.refit()
        return self._record(idx, y)

    def step(self, k: int | None = None) -> RoundRecord | None:
        """One round: propose ``k`` (default the loop's), label, refit, record.

        Returns:
            The round's record, or ``None`` when nothing is left to select (no round is recorded).
        """
        new = self.propose(k)
        if len(new) == 0:
            return None
        y = self._label(new)
        self.add_labels(new, y)
        self.refit()
        return self._record(new, y)

    def run(
        self,
        initial: np.ndarray,
        rounds: int | None = None,
        max_labels: int | None = None,
        stop: Callable[[RoundRecord], bool] | None = None,
    ) -> list[RoundRecord]:
        """Start from ``initial`` and step until a limit or ``stop(record)`` is true.

        Args:
            initial: pool indices of the initial labelled set.
            rounds: at most this many rounds after round 0.
            max_labels: stop once this many labels are held (the last round may be cut short so the
                total never exceeds it).
            stop: called on each record (round 0 included); the loop stops when it returns True.

        Returns:
            :attr:`history`.
        """
        rec: RoundRecord | None = self.start(initial)
        done = 0
        while rec is not None and not (stop and stop(rec)):
            if rounds is not None and done >= rounds:
                break
            left = None if max_labels is None else max_labels - len(self.labelled)
            if left is not None and left <= 0:
                break
            rec = self.step(None if left is None else min(self.k, left))
            done += 1
        return self.history
