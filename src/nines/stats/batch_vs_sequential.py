r"""Exact output distributions of sequential rejection sampling and batch "keep the safest".

One prompt, a discrete completion distribution: completion j has probability pi_j, classifier
score s_j, failure label y_j and quality q_j; it is accepted when a_j = [s_j <= t] (NaN never).

**Sequential** (and ``batch_first``): draw until accepted, so

    P_seq(j) = pi_j a_j / A,         A = sum_j pi_j a_j.

**Batch-safest** with k: draw k iid completions, return the accepted one with the lowest score
(ties: the earliest in the batch); if none is accepted, draw a fresh batch. Only the last,
successful batch matters, so condition on "the batch has >= 1 accepted item" (probability
1 - (1 - A)^k). Let F(s) = sum_{accepted i: s_i <= s} pi_i and G(s) = sum_{accepted i: s_i = s} pi_i.
The minimum accepted score in the batch equals s iff no item has an accepted score < s and not all
items avoid accepted scores <= s:

    P(min accepted score = s) = (1 - F(s-))^k - (1 - F(s))^k.

Among tied completions with that score the earliest one is returned; the first batch item that
falls in the tie group is distributed as pi_j / G(s), so

    P_batch(j) = a_j [(1 - F(s_j-))^k - (1 - F(s_j))^k] pi_j / G(s_j)  /  (1 - (1 - A)^k).

With k = 1 this is P_seq. As k grows, P_batch concentrates on the lowest-scoring accepted items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

ArrayLike = Sequence[float] | np.ndarray


def _check(probs: ArrayLike, scores: ArrayLike, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pi = np.asarray(probs, dtype=float).reshape(-1)
    s = np.asarray(scores, dtype=float).reshape(-1)
    if pi.shape != s.shape or pi.size == 0:
        raise ValueError(f"need one score per completion probability, got {pi.size} probs and {s.size} scores")
    if (pi < 0).any() or not np.isfinite(pi).all() or abs(pi.sum() - 1) > 1e-6:
        raise ValueError(f"probs must be non-negative and sum to 1 (got sum {pi.sum():.6g}); normalise them first")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    acc = ~np.isnan(s) & (s <= threshold)
    if (pi * acc).sum() <= 0:
        raise ValueError("no completion with positive probability is accepted: the filter never returns")
    return pi, s, acc


def sequential_distribution(probs: ArrayLike, scores: ArrayLike, threshold: float) -> np.ndarray:
    """P_seq(j) = pi_j a_j / sum(pi a): the law of the completion sequential rejection returns.

    Raises:
        ValueError: on bad shapes, unnormalised probs, or when nothing can be accepted.
    """
    pi, _, acc = _check(probs, scores, threshold)
    m = pi * acc
    return m / m.sum()


def batch_safest_distribution(probs: ArrayLike, scores: ArrayLike, threshold: float, k: int) -> np.ndarray:
    """Law of the completion returned by batch-safest with batches of ``k`` (see module docstring).

    P_batch(j) = a_j [(1 - F(s_j-))^k - (1 - F(s_j))^k] (pi_j / G(s_j)) / (1 - (1 - A)^k).

    Raises:
        ValueError: on bad inputs or ``k < 1``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (the batch size) must be an integer >= 1, got {k!r}")
    pi, s, acc = _check(probs, scores, threshold)
    out = np.zeros_like(pi)
    idx = np.flatnonzero(acc & (pi > 0))
    levels, group = np.unique(s[idx], return_inverse=True)  # ascending accepted score levels
    g = np.bincount(group, weights=pi[idx], minlength=levels.size)  # G(s) per level
    above = np.clip(1.0 - np.cumsum(g), 0.0, 1.0)  # 1 - F(s)
    p_min = (above + g) ** k - above**k  # (1 - F(s-))^k - (1 - F(s))^k
    out[idx] = p_min[group] * pi[idx] / g[group]
    a_total = float((pi * acc).sum())
    return out / (1 - (1 - a_total) ** k)


@dataclass(frozen=True)
class PolicyComparison:
    """Failure rate and mean quality of the returned completion under each policy (one prompt or pooled).

    Attributes:
        failure_sequential: sum_j P_seq(j) y_j.
        failure_batch: sum_j P_batch(j) y_j.
        quality_sequential: sum_j P_seq(j) q_j.
        quality_batch: sum_j P_batch(j) q_j.
        k: batch size.
    """

    failure_sequential: float
    failure_batch: float
    quality_sequential: float
    quality_batch: float
    k: int

    @property
    def failure_difference(self) -> float:
        """failure_batch - failure_sequential (negative: batch-safest fails less)."""
        return self.failure_batch - self.failure_sequential

    @property
    def quality_difference(self) -> float:
        """quality_batch - quality_sequential."""
        return self.quality_batch - self.quality_sequential

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(failure_difference=self.failure_difference, quality_difference=self.quality_difference)
        return d


def compare_policies(
    probs: ArrayLike, scores: ArrayLike, labels: ArrayLike, quality: ArrayLike, threshold: float, k: int
) -> PolicyComparison:
    """Exact failure rate and mean quality under sequential and batch-safest for one prompt.

    Args:
        probs: pi_j (sum to 1).
        scores: s_j (NaN = always rejected).
        labels: y_j, 1 for an injurious (failing) completion.
        quality: q_j.
        threshold: acceptance threshold t (accept s_j <= t).
        k: batch size of batch-safest.
    """
    y = np.asarray(labels, dtype=float).reshape(-1)
    q = np.asarray(quality, dtype=float).reshape(-1)
    seq = sequential_distribution(probs, scores, threshold)
    bat = batch_safest_distribution(probs, scores, threshold, k)
    if y.shape != seq.shape or q.shape != seq.shape:
        raise ValueError("labels and quality need one value per completion, like probs and scores")
    return PolicyComparison(float(seq @ y), float(bat @ y), float(seq @ q), float(bat @ q), int(k))


@dataclass(frozen=True)
class PolicyReport:
    """Policy comparison over many prompts, averaged with equal prompt weights.

    Attributes:
        pooled: mean of the per-prompt exact values.
        failure_diff_se: standard error (over prompts) of the mean failure difference.
        quality_diff_se: standard error of the mean quality difference.
        n_prompts: prompts averaged.
        confidence: level of the significance statement.
        failure_significant: |mean failure difference| > z * se.
        quality_significant: |mean quality difference| > z * se.
        sentence: one plain-English sentence.
    """

    pooled: PolicyComparison
    failure_diff_se: float
    quality_diff_se: float
    n_prompts: int
    confidence: float
    failure_significant: bool
    quality_significant: bool
    sentence: str


def policy_difference_report(
    prompts: Sequence[tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike]],
    threshold: float,
    k: int,
    confidence: float = 0.95,
    classifier_name: str = "the classifier",
) -> PolicyReport:
    """Does batch-safest differ from sequential, over a sample of prompts?

    Each prompt's values are exact (:func:`compare_policies`); the only uncertainty is which prompts
    were sampled, so the difference D = mean_x (batch_x - sequential_x) has standard error
    sd_x(D_x) / sqrt(n) and is significant when |D| > z_{1-a/2} se.

    Args:
        prompts: per prompt ``(probs, scores, labels, quality)`` (completion pools: enumerated
            or the empirical distribution of a large sample).
        threshold: acceptance threshold.
        k: batch size.
        confidence: two-sided level.
        classifier_name: used in the sentence.

    Raises:
        ValueError: with fewer than 2 prompts or a bad prompt (see :func:`compare_policies`).
    """
    if len(prompts) < 2:
        raise ValueError("need at least 2 prompts to judge significance across prompts")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    rows = [compare_policies(p, s, y, q, threshold, k) for p, s, y, q in prompts]
    arr = np.array([[r.failure_sequential, r.failure_batch, r.quality_sequential, r.quality_batch] for r in rows])
    mean = arr.mean(axis=0)
    n = len(rows)
    fd, qd = arr[:, 1] - arr[:, 0], arr[:, 3] - arr[:, 2]
    fse, qse = float(fd.std(ddof=1) / math.sqrt(n)), float(qd.std(ddof=1) / math.sqrt(n))
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    pooled = PolicyComparison(float(mean[0]), float(mean[1]), float(mean[2]), float(mean[3]), int(k))
    # A difference at round-off level (e.g. k = 1, where the laws are equal) is never significant.
    f_sig = abs(pooled.failure_difference) > max(z * fse, 1e-9)
    q_sig = abs(pooled.quality_difference) > max(z * qse, 1e-9)
    verb = "lowers" if pooled.failure_difference < 0 else "raises"
    qverb = "lowers" if pooled.quality_difference < 0 else "raises"
    sentence = (
        f"With {classifier_name} at threshold {threshold:g}, batch-safest (k={k}) {verb} the failure rate from "
        f"{pooled.failure_sequential:.3g} to {pooled.failure_batch:.3g} and {qverb} mean quality from "
        f"{pooled.quality_sequential:.3g} to {pooled.quality_batch:.3g}; the failure difference "
        f"{'is' if f_sig else 'is not'} significant and the quality difference "
        f"{'is' if q_sig else 'is not'} significant at {confidence:.0%} ({n} prompts)."
    )
    return PolicyReport(pooled, fse, qse, n, confidence, bool(f_sig), bool(q_sig), sentence)
