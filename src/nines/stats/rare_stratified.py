"""Rare filtered failure rates by stratified sampling on the classifier score.

The second design of :mod:`nines.stats.rare` (whose docstring sets out the estimand F_pool): stratify
the accepted pool items by score, label a sample drawn without replacement within each stratum
(Neyman or proportional allocation), and combine the stratum means with their target weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from nines.stats.binomial import clopper_pearson
from nines.stats.rare import (  # package-private shared checks
    RareEstimate,
    _labels,
    _scores,
    _target,
    _upper,
    _z,
)
from nines.stats.reweight import check_threshold

Allocation = Literal["neyman", "proportional"]


@dataclass(frozen=True)
class StratifiedSample:
    """A stratified (by score, among accepted items) sample without replacement within strata.

    Attributes:
        indices: pool indices to label, grouped by stratum.
        stratum: stratum of each index.
        pop_size: N_h, accepted pool items per stratum.
        n_per_stratum: n_h, labels per stratum.
        stratum_weight: W_h = sum of target weights p_i over stratum h (N_h/N_acc for the pooled target).
        edges: the score edges used.
        p: target weight of each labelled item.
    """

    indices: np.ndarray
    stratum: np.ndarray
    pop_size: np.ndarray
    n_per_stratum: np.ndarray
    stratum_weight: np.ndarray
    edges: np.ndarray
    p: np.ndarray


def _allocate(n: int, share: np.ndarray, cap: np.ndarray, minimum: int) -> np.ndarray:
    """Integer allocation ∝ share (largest remainder), at least ``minimum`` and at most ``cap`` per stratum."""
    alloc = np.minimum(cap, minimum).astype(np.int64)
    for _ in range(len(cap) + 1):
        left = n - int(alloc.sum())
        open_ = alloc < cap
        if left <= 0 or not open_.any():
            break
        sh = np.where(open_, share, 0.0)
        if sh.sum() <= 0:
            sh = open_.astype(float)
        raw = left * sh / sh.sum()
        add = np.floor(raw).astype(np.int64)
        rem = left - int(add.sum())
        order = np.argsort(-(raw - add))
        add[order[:rem]] += 1
        alloc = np.minimum(cap, alloc + add)
    return alloc


def stratified_sample(
    scores: Any,
    threshold: float,
    strata_edges: Any,
    n_labels: int,
    allocation: Allocation = "neyman",
    pilot: Any = None,
    target_weights: Any = None,
    min_per_stratum: int = 2,
    seed: int = 0,
) -> StratifiedSample:
    """Stratify accepted pool items by score and sample without replacement within each stratum.

    Strata: [edge_0, edge_1), ..., [edge_{H-1}, t], using the interior edges given (values outside
    (0, t) are ignored) plus 0 and t. Allocation: ``proportional`` n_h ∝ W_h; ``neyman``
    n_h ∝ W_h S_h with S_h = sqrt(pilot_h (1 - pilot_h)) where ``pilot`` gives per-stratum failure-rate
    guesses; without a pilot the mean score in the stratum stands in for the failure rate (a calibrated
    classifier's score is P(y=1|s)). Each stratum gets at least ``min_per_stratum`` labels (capped at N_h).

    Args:
        scores: score of every pool item.
        threshold: filter threshold.
        strata_edges: interior score edges, e.g. ``[0.5, 0.8, 0.9]``.
        n_labels: total label budget.
        allocation: ``neyman`` or ``proportional``.
        pilot: optional per-stratum failure-rate guesses (length H).
        target_weights: optional p_i (see :func:`filtered_target_weights`); default uniform.
        min_per_stratum: minimum labels per stratum (2 allows a variance estimate).
        seed: sampling seed.
    """
    s = _scores(scores)
    t = check_threshold(threshold)
    acc, p = _target(s, t, target_weights)
    inner = np.unique(np.asarray(strata_edges, dtype=float))
    inner = inner[(inner > 0) & (inner < t)]
    edges = np.concatenate([[0.0], inner, [t]])
    h_of = np.searchsorted(inner, s, side="right")
    H = len(edges) - 1
    N = np.bincount(h_of[acc], minlength=H)
    W = np.bincount(h_of[acc], weights=p[acc], minlength=H)
    if allocation == "proportional":
        share = W
    elif allocation == "neyman":
        if pilot is None:
            ph = np.bincount(h_of[acc], weights=s[acc], minlength=H) / np.maximum(N, 1)
        else:
            ph = np.asarray(pilot, dtype=float)
            if ph.shape != (H,) or np.any((ph < 0) | (ph > 1)):
                raise ValueError(f"pilot must give {H} per-stratum failure-rate guesses in [0, 1]")
        # Within-stratum sd of p_i y_i, scaled so pooled weights reduce to W_h sqrt(p(1-p)).
        share = W * np.sqrt(ph * (1 - ph)) + 1e-12 * W
    else:
        raise ValueError(f"allocation must be 'neyman' or 'proportional', got {allocation!r}")
    if int(n_labels) != n_labels or n_labels < 1:
        raise ValueError(f"n_labels must be a positive integer, got {n_labels!r}")
    n_h = _allocate(int(n_labels), share, N, min_per_stratum)
    rng = np.random.default_rng(seed)
    order = np.flatnonzero(acc)
    members = np.split(order[np.argsort(h_of[order], kind="stable")], np.cumsum(N)[:-1])
    idx = [rng.choice(mem, size=int(k), replace=False) for mem, k in zip(members, n_h)]
    indices = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
    return StratifiedSample(indices, np.repeat(np.arange(H), n_h), N, n_h, W, edges, p[indices])


def stratified_estimate(labels: Any, sample: StratifiedSample, confidence: float = 0.95) -> RareEstimate:
    """Stratified estimate of F_pool = sum_h W_h ȳ'_h.

    With target weights p_i, the stratum-h mean of u_i = p_i y_i / (W_h / N_h) (= y_i for the uniform
    target) estimates ȳ'_h; F̂ = sum_h W_h ū_h, Var̂ = sum_h W_h^2 (1 - n_h/N_h) s_h^2 / n_h (finite
    population correction; strata with n_h = N_h contribute no variance, strata with n_h < 2 use
    s_h^2 = ū_h(1-ū_h) n_h/(n_h - 1) undefined -> 0). Normal interval F̂ ± z se.

    Strata with zero observed failures have s_h = 0 and add nothing to se, so the normal interval is
    optimistic there. ``conservative_upper`` instead combines per-stratum Clopper-Pearson upper bounds at
    level 1 - alpha/H each (Bonferroni, so they hold simultaneously): F <= sum_h W_h CP_upper(k_h, n_h)
    (for the uniform target; with unequal p_i, W_h is replaced by N_h max_{i in h} p_i).
    When no failure is labelled at all, ``upper`` is that conservative bound; otherwise it is the larger
    of F̂ + z se and the Korn-Graubard bound (see :func:`nines.stats.rare.importance_estimate`).
    """
    z = _z(confidence)
    n = len(sample.indices)
    y = _labels(labels, n)
    H = len(sample.pop_size)
    W, N, nh = sample.stratum_weight, sample.pop_size.astype(float), sample.n_per_stratum
    scale = np.where(N > 0, W / np.maximum(N, 1), 1.0)
    u = y * sample.p / scale[sample.stratum]
    sums = np.bincount(sample.stratum, weights=u, minlength=H)
    sq = np.bincount(sample.stratum, weights=u * u, minlength=H)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(nh > 0, sums / np.maximum(nh, 1), 0.0)
        var = np.where(nh > 1, (sq - nh * mean**2) / np.maximum(nh - 1, 1), 0.0)
        fpc = np.where(N > 0, 1 - nh / np.maximum(N, 1), 0.0)
    est = float((W * mean).sum())
    se = float(math.sqrt(max(0.0, float((W**2 * fpc * np.maximum(var, 0) / np.maximum(nh, 1)).sum()))))
    k_h = np.bincount(sample.stratum, weights=y.astype(float), minlength=H).astype(int)
    conf_h = 1 - (1 - confidence) / max(H, 1)
    pmax = np.zeros(H)
    np.maximum.at(pmax, sample.stratum, sample.p)
    w_bound = np.where(np.isclose(scale, pmax) | (nh == 0), W, N * pmax)
    cons = float(sum(wb * (clopper_pearson(int(k), int(m), conf_h).upper if m > 0 else 1.0)
                     for wb, k, m in zip(w_bound, k_h, nh) if wb > 0))
    k = int(y.sum())
    upper = min(1.0, cons) if k == 0 else _upper(est + z * se, est, se, confidence)
    max_w = float(np.max(np.where(nh > 0, W / np.maximum(nh, 1), 0.0)))
    return RareEstimate(est, se, max(0.0, est - z * se), upper, min(1.0, cons), confidence, "stratified", n, k,
                        max_w)


__all__ = ["Allocation", "StratifiedSample", "stratified_estimate", "stratified_sample"]
