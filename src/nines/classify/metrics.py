"""Threshold metrics shared by training (early stopping) and calibration."""

from __future__ import annotations

import numpy as np


def threshold_at_rejection(scores: np.ndarray, budget: float) -> float:
    """The smallest threshold rejecting at most ``budget`` of ``scores`` (reject means score > threshold).

    With sorted scores s_(1) <= ... <= s_(n), rejecting at most k = floor(budget * n) means the
    threshold must be at least s_(n-k); ties are resolved conservatively (never over budget).
    """
    s = np.sort(np.asarray(scores, dtype=np.float64))
    n = len(s)
    if n == 0:
        raise ValueError("cannot choose a threshold from zero scores")
    k = int(np.floor(budget * n + 1e-9))
    return float(s[n - k - 1]) if k < n else float(np.nextafter(s[0], -np.inf))


def threshold_at_recall(positive_scores: np.ndarray, target: float) -> float:
    """The largest threshold at which at least ``target`` of positives are rejected (score > threshold)."""
    s = np.sort(np.asarray(positive_scores, dtype=np.float64))
    n = len(s)
    if n == 0:
        raise ValueError("cannot choose a recall threshold without labelled injurious examples")
    need = int(np.ceil(target * n - 1e-9))  # positives that must sit above the threshold
    if need <= 0:
        return float(s[-1])
    # The `need` largest scores must be > t: t just below the need-th largest.
    return float(np.nextafter(s[n - need], -np.inf))


def recall_at(positive_scores: np.ndarray, threshold: float) -> float:
    """Fraction of positives rejected at ``threshold``."""
    p = np.asarray(positive_scores)
    return float(np.mean(p > threshold)) if len(p) else float("nan")


def recall_at_rejection(scores: np.ndarray, labels: np.ndarray, budget: float) -> float:
    """Recall on positives when the threshold rejects ``budget`` of the negatives.

    Used for early stopping: the figure that matters is how many injurious snippets are caught
    at the rejection budget the user will run with, not accuracy.
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores)
    if y.all() or not y.any():
        return float("nan")
    t = threshold_at_rejection(s[~y], budget)
    return recall_at(s[y], t)
