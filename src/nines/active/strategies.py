"""Which unlabelled pool items to send for labelling next: pure functions over score arrays.

Every strategy only looks at arrays of scores (probability of ``injurious`` per pool item), so it
works with any classifier, and the web app can feed a human labelling queue from :func:`select`.

Rules shared by all strategies:

* items in ``already_labelled`` are never selected;
* the result holds at most ``k`` distinct pool indices, best first;
* when fewer than ``k`` items are eligible (e.g. ``redwood`` with only a few accepted unlabelled
  items left) the result is **all eligible items**, best first, so it is shorter than ``k``; pass
  ``strict=True`` to get a :class:`ValueError` instead;
* ties are broken by a random order drawn from ``seed``, so the result is deterministic given
  ``seed`` and does not favour low pool indices.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: Strategy names understood by :func:`select`.
STRATEGIES: tuple[str, ...] = ("redwood", "uncertainty", "disagreement", "random")


def _eligible(n: int, already_labelled: Iterable[int] | np.ndarray | None) -> np.ndarray:
    """Boolean mask of pool items that have not been labelled yet."""
    mask = np.ones(n, dtype=bool)
    if already_labelled is not None:
        idx = np.asarray(list(already_labelled) if not isinstance(already_labelled, np.ndarray) else already_labelled)
        if idx.size:
            idx = idx.astype(np.int64)
            if idx.min() < 0 or idx.max() >= n:
                raise ValueError(f"already_labelled holds indices outside the pool of {n} items")
            mask[idx] = False
    return mask


def _rank(key: np.ndarray, candidates: np.ndarray, k: int, seed: int, strict: bool, what: str) -> np.ndarray:
    """The ``k`` candidates with the smallest ``key`` (random tie-break from ``seed``)."""
    cand = np.flatnonzero(candidates)
    if strict and len(cand) < k:
        raise ValueError(f"only {len(cand)} eligible {what} for k={k}")
    tie = np.random.default_rng(seed).random(len(key))[cand]
    order = np.lexsort((tie, key[cand]))
    return cand[order[:k]].astype(np.int64)


def _check_scores(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one score per pool item), got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError(f"{name} contains NaN")
    return s


def select(
    strategy: str,
    scores: np.ndarray,
    k: int,
    *,
    threshold: float | None = None,
    ensemble_scores: np.ndarray | None = None,
    already_labelled: Iterable[int] | np.ndarray | None = None,
    seed: int = 0,
    strict: bool = False,
) -> np.ndarray:
    """Pick up to ``k`` pool items to label next.

    Args:
        strategy: one of :data:`STRATEGIES`:

            * ``redwood``: only items the filter would accept (``score <= threshold``), closest to
              the threshold first, i.e. the highest-scoring accepted items. Accepted failures are
              what slips through the filter, so that is where labels pay off (Redwood Research's
              rule). Needs ``threshold``.
            * ``uncertainty``: items whose score is closest to 0.5.
            * ``disagreement``: highest variance across ensemble members (``ensemble_scores`` of
              shape ``(M, N)``, ``M >= 2``); when ``threshold`` is given, only accepted items
              (``scores <= threshold``) are eligible.
            * ``random``: a uniformly random sample of unlabelled items.
        scores: shape ``(N,)``, the current classifier's score per pool item (higher = more likely
            injurious); defines the pool size for every strategy.
        k: how many items to return at most (``k >= 0``).
        threshold: the filter's threshold (reject when ``score > threshold``).
        ensemble_scores: shape ``(M, N)`` member scores, for ``disagreement``.
        already_labelled: pool indices never to select again.
        seed: fixes the random tie-break (and the ``random`` sample).
        strict: raise instead of returning fewer than ``k`` items when too few are eligible.

    Returns:
        int64 pool indices, best first, distinct, at most ``k`` of them.

    Raises:
        ValueError: unknown strategy, negative ``k``, malformed arrays, a missing ``threshold``
            (redwood) or ``ensemble_scores`` (disagreement), or (with ``strict``) fewer than ``k``
            eligible items.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    s = _check_scores(scores)
    eligible = _eligible(len(s), already_labelled)
    if strategy == "redwood":
        if threshold is None:
            raise ValueError("the redwood strategy needs the filter's threshold (threshold=...)")
        return _rank(threshold - s, eligible & (s <= threshold), k, seed, strict, "accepted items")
    if strategy == "uncertainty":
        return _rank(np.abs(s - 0.5), eligible, k, seed, strict, "items")
    if strategy == "disagreement":
        if ensemble_scores is None:
            raise ValueError("the disagreement strategy needs ensemble_scores of shape (M, N)")
        e = np.asarray(ensemble_scores, dtype=np.float64)
        if e.ndim != 2 or e.shape[1] != len(s) or e.shape[0] < 2:
            raise ValueError(f"ensemble_scores must have shape (M>=2, {len(s)}), got {e.shape}")
        if threshold is not None:
            eligible &= s <= threshold
        return _rank(-e.var(axis=0), eligible, k, seed, strict, "items")
    if strategy == "random":
        return _rank(np.zeros(len(s)), eligible, k, seed, strict, "items")
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
