"""The filtered policy's failure rate, estimated from labels of *unfiltered* completions.

The filtered policy resamples c ~ p(.|x) until score(c) <= t, so it draws from p(.|x) restricted to
accepted completions (a = 1[score <= t]) and renormalised per prompt. Its failure rate is

    F = E_x[ P(y=1, a=1 | x) / P(a=1 | x) ]     (prompts with P(a=1|x) = 0 excluded: they never return)

One set of human labels of random unfiltered completions evaluates every classifier and threshold:
re-weight each labelled row by w_i = a_i / P(a=1 | x_i). Rows whose prompt has P(a=1|x) = 0 are dropped
(so F is the rate over prompts that can return a completion) and their share is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import norm

from nines.stats.binomial import clopper_pearson
from nines.stats.labels_needed import korn_graubard_upper

Estimator = Literal["ratio", "ht"]
VarianceMethod = Literal["delta", "bootstrap"]


@dataclass(frozen=True)
class ReweightedEstimate:
    """A filtered-policy failure-rate estimate with a two-sided interval.

    Attributes:
        estimate: the chosen point estimate (``estimator``).
        se: its standard error (delta / sample variance, or bootstrap sd).
        lower: interval lower bound, clipped at 0.
        upper: interval upper bound, clipped at 1. For :func:`filtered_failure_rate` it is at least
            the Korn-Graubard bound, so it holds with a handful of failures.
        confidence: interval confidence level.
        estimator: ``ratio`` (self-normalised), ``ht`` (Horvitz-Thompson) or ``pooled``.
        method: ``delta`` (normal interval) or ``bootstrap`` (percentile interval over prompts).
        n: labelled rows used (after dropping prompts with P(a|x) = 0).
        n_accepted: rows the filter accepts.
        n_failures: accepted rows labelled as failures.
        n_clusters: independent prompts (rows sharing a prompt id are one cluster).
        effective_sample_size: (sum w)^2 / sum w^2 over the rows.
        ht_estimate: Horvitz-Thompson mean(y w).
        ratio_estimate: self-normalised sum(y w) / sum(w).
        excluded_share: share of rows dropped because their prompt has P(a=1|x) = 0.
    """

    estimate: float
    se: float
    lower: float
    upper: float
    confidence: float
    estimator: str
    method: str
    n: int
    n_accepted: int
    n_failures: int
    n_clusters: int
    effective_sample_size: float
    ht_estimate: float
    ratio_estimate: float
    excluded_share: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.estimate:.3g} [{self.lower:.3g}, {self.upper:.3g}] ({self.estimator}/{self.method}, "
                f"{self.n_failures}/{self.n_accepted} accepted failures, ESS {self.effective_sample_size:.0f})")


# ---- validation -------------------------------------------------------------------------------------
def _as_bool(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must be 0/1 or boolean; convert labels with `== 'injurious'` first")
        a = a.astype(bool)
    return a


def _same_length(**arrays: np.ndarray) -> int:
    lens = {k: len(v) for k, v in arrays.items()}
    if len(set(lens.values())) != 1:
        raise ValueError(f"arrays must have one entry per labelled row; got lengths {lens}")
    return next(iter(lens.values()))


def _check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
    return float(norm.ppf(1 - (1 - confidence) / 2))


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as float; ValueError unless it is in [0, 1]."""
    t = float(threshold)
    if not 0.0 <= t <= 1.0 or math.isnan(t):
        raise ValueError(f"threshold must be in [0, 1] (a classifier probability), got {threshold!r}")
    return t


def _cluster_codes(prompt_ids: Any, n: int) -> np.ndarray:
    if prompt_ids is None:
        return np.arange(n)
    ids = np.asarray(prompt_ids)
    if len(ids) != n:
        raise ValueError(f"prompt_ids must have one entry per labelled row; got {len(ids)} for {n} rows")
    return np.unique(ids, return_inverse=True)[1].ravel()


# ---- weights ----------------------------------------------------------------------------------------
def importance_weights(accepted: Any, accept_prob: Any) -> np.ndarray:
    """w_i = a_i / P(a=1 | x_i); 0 for rejected rows and for prompts with P(a=1|x) = 0.

    Raises:
        ValueError: if ``accept_prob`` is outside [0, 1] or an accepted row has ``accept_prob`` 0.
    """
    a = _as_bool(accepted, "accepted")
    p = np.asarray(accept_prob, dtype=float)
    _same_length(accepted=a, accept_prob=p)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("accept_prob must be probabilities P(a=1|x) in [0, 1]")
    if np.any(a & (p <= 0)):
        raise ValueError(
            "an accepted row has accept_prob 0, which is impossible; if accept probs are estimated from "
            "unlabelled samples, use more samples per prompt or count the labelled row itself"
        )
    w = np.zeros(len(a))
    w[a] = 1.0 / p[a]
    return w


def estimate_accept_prob(
    scores_by_prompt: Mapping[Any, Sequence[float] | np.ndarray] | Sequence[Sequence[float] | np.ndarray],
    threshold: float,
) -> np.ndarray | dict[Any, float]:
    """Plug-in P̂(a=1 | x) = #{j : s_xj <= t} / m_x from m_x cheap unlabelled scored samples per prompt.

    Note: 1/P̂ is biased upward for small m_x (Jensen); use m_x large enough that P̂ is rarely near 0
    (tens to hundreds of samples per prompt), or at least several times 1/P(a|x).

    Args:
        scores_by_prompt: a dict prompt -> scores, or a list of score arrays (one per prompt).
        threshold: acceptance threshold in [0, 1].

    Returns:
        A dict with the same keys, or an array in list order.
    """
    t = check_threshold(threshold)

    def one(s: Sequence[float] | np.ndarray) -> float:
        arr = np.asarray(s, dtype=float)
        if arr.size == 0:
            raise ValueError("every prompt needs at least one scored sample to estimate its acceptance")
        return float(np.mean(arr <= t))

    if isinstance(scores_by_prompt, Mapping):
        return {k: one(v) for k, v in scores_by_prompt.items()}
    return np.array([one(v) for v in scores_by_prompt])


# ---- estimators -------------------------------------------------------------------------------------
def _cluster_sums(codes: np.ndarray, *cols: np.ndarray) -> list[np.ndarray]:
    m = int(codes.max()) + 1 if len(codes) else 0
    return [np.bincount(codes, weights=c, minlength=m) for c in cols]


def _ratio_se(num: np.ndarray, den: np.ndarray, r: float) -> float:
    """Linearised se of sum(num)/sum(den) over m iid clusters: sqrt(sum (num - r den)^2 / (m(m-1))) / mean(den)."""
    m = len(num)
    if m < 2 or den.sum() <= 0:
        return math.nan
    e = num - r * den
    return float(math.sqrt((e @ e) / (m * (m - 1))) / den.mean())


def _bootstrap(num: np.ndarray, den: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Cluster bootstrap replicates of sum(num)/sum(den) (resampling clusters with replacement)."""
    rng = np.random.default_rng(seed)
    m = len(num)
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(m, 1))
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        idx = rng.integers(0, m, (b, m))
        d = den[idx].sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s : s + b] = np.where(d > 0, num[idx].sum(1) / d, np.nan)
    return out


def zero_failure_upper(effective_n: float, confidence: float) -> float:
    """The upper bound when no accepted row failed: Clopper-Pearson's for 0 of ``effective_n``.

    With no failure the delta method's standard error is 0, so its interval would be [0, 0], which
    claims certainty. For weighted rows n is Kish's effective sample size (the row count when the
    weights are equal), rounded down so the bound errs wide; heavily reweighted rows give a wider bound.
    """
    return clopper_pearson(0, int(math.floor(effective_n + 1e-9)), confidence).upper


def filtered_failure_rate(
    labels: Any,
    accepted: Any,
    accept_prob: Any,
    prompt_ids: Any = None,
    confidence: float = 0.95,
    method: VarianceMethod = "delta",
    estimator: Estimator = "ratio",
    n_boot: int = 2000,
    seed: int = 0,
) -> ReweightedEstimate:
    """Failure rate of the rejection-sampled policy from labels of unfiltered completions.

    With w_i = a_i / P(a=1|x_i) over the n rows whose prompt has P(a=1|x) > 0:

    * Horvitz-Thompson (``estimator="ht"``): F̂_HT = (1/n) sum_i y_i w_i, unbiased since
      E[y a / P(a|x) | x] = P(y=1, a=1|x)/P(a=1|x). Variance: sample variance of y_i w_i over n.
    * Self-normalised ratio (``estimator="ratio"``, default): F̂_R = sum_i y_i w_i / sum_i w_i
      (E[w] = 1, so it is consistent; usually lower variance, O(1/n) bias). Delta-method variance:
      Var ≈ sum_i (y_i w_i - F̂_R w_i)^2 / (n(n-1) w̄^2).

    When rows share a prompt id, sums are taken per prompt (cluster) first and the variance is over
    clusters; HT then becomes sum(y w)/n_rows, i.e. a ratio of cluster totals to cluster sizes.
    ``method="bootstrap"`` resamples prompts with replacement ``n_boot`` times and reports the
    percentile interval and the bootstrap sd. Interval bounds are clipped to [0, 1]. Either way the
    upper end is at least the Korn-Graubard bound (:func:`nines.stats.labels_needed.korn_graubard_upper`
    at the Kish effective sample size), and with no accepted failure it is the zero-failure bound.

    Args:
        labels: 1 for an injurious (failure) completion, per row.
        accepted: 1 if the classifier accepts the row's completion (score <= threshold).
        accept_prob: P(a=1 | x_i) for the row's prompt (known, or :func:`estimate_accept_prob`).
        prompt_ids: optional prompt id per row (cluster-robust variance and cluster bootstrap).
        confidence: two-sided confidence level.
        method: ``delta`` (normal interval) or ``bootstrap``.
        estimator: ``ratio`` or ``ht``.
        n_boot: bootstrap replications.
        seed: bootstrap seed.
    """
    z = _check_confidence(confidence)
    y = _as_bool(labels, "labels")
    a = _as_bool(accepted, "accepted")
    p = np.asarray(accept_prob, dtype=float)
    n_all = _same_length(labels=y, accepted=a, accept_prob=p)
    if n_all == 0:
        raise ValueError("no labelled rows: label some unfiltered completions first")
    if estimator not in ("ratio", "ht"):
        raise ValueError(f"estimator must be 'ratio' or 'ht', got {estimator!r}")
    if method not in ("delta", "bootstrap"):
        raise ValueError(f"method must be 'delta' or 'bootstrap', got {method!r}")
    w_all = importance_weights(a, p)
    codes_all = _cluster_codes(prompt_ids, n_all)
    keep = p > 0
    y, a, w, codes = y[keep], a[keep], w_all[keep], np.unique(codes_all[keep], return_inverse=True)[1].ravel()
    n = int(keep.sum())
    if n == 0:
        raise ValueError("every labelled row's prompt has P(a=1|x) = 0: the filter never returns there")
    yw = y * w
    ht = float(yw.sum() / n)
    ratio = float(yw.sum() / w.sum()) if w.sum() > 0 else math.nan
    t_yw, t_w, t_n = _cluster_sums(codes, yw, w, np.ones(n))
    num, den = (t_yw, t_w) if estimator == "ratio" else (t_yw, t_n)
    est = ratio if estimator == "ratio" else ht
    if method == "delta":
        se = _ratio_se(num, den, est) if not math.isnan(est) else math.nan
        lo, hi = est - z * se, est + z * se
    else:
        reps = _bootstrap(num, den, n_boot, seed)
        reps = reps[~np.isnan(reps)]
        se = float(reps.std(ddof=1)) if len(reps) > 1 else math.nan
        alpha = 1 - confidence
        lo, hi = (float(np.quantile(reps, alpha / 2)), float(np.quantile(reps, 1 - alpha / 2))) if len(reps) else (
            math.nan, math.nan)
    ess = float(w.sum() ** 2 / (w @ w)) if (w @ w) > 0 else 0.0
    if not (y & a).any():
        hi = zero_failure_upper(ess, confidence)
    elif not math.isnan(est):
        # The normal (or percentile) upper end is too low when failures are few and weights skewed:
        # measured on tests/stats/test_reweight.py's scenario, it held in 85-92% of runs with 3-15
        # failures against the 97.5% it promises. The Korn-Graubard bound (Clopper-Pearson at the
        # design's effective size) brings that to 96-98% and merges into the normal one as failures grow.
        hi = max(hi, korn_graubard_upper(est, se, ess, confidence))
    return ReweightedEstimate(
        estimate=est, se=se, lower=max(0.0, lo), upper=min(1.0, hi), confidence=confidence, estimator=estimator,
        method=method, n=n, n_accepted=int(a.sum()), n_failures=int((y & a).sum()), n_clusters=len(t_w),
        effective_sample_size=ess, ht_estimate=ht, ratio_estimate=ratio, excluded_share=1 - n / n_all,
    )


def pooled_failure_rate(labels: Any, accepted: Any, prompt_ids: Any = None,
                        confidence: float = 0.95) -> ReweightedEstimate:
    """The usual "ratio of means": share of accepted labelled rows that are failures, sum(y a)/sum(a).

    It converges to P(y=1 | a=1) = E_x[P(a|x) F_x] / E_x[P(a|x)] (F_x the per-prompt filtered rate): an
    *acceptance-weighted* average of F_x. The filtered policy instead returns one completion for every
    prompt, F = E_x[F_x]. The bias is Cov_x(P(a|x), F_x) / E_x[P(a|x)]: zero when acceptance is the same
    for every prompt, and negative (optimistic) in the common case where risky prompts are both rejected
    more often and fail more often after filtering. Use :func:`filtered_failure_rate` instead; this one is
    here for comparison. Delta-method interval as for the ratio estimator with w = a.

    Args:
        labels: 1 for a failure, per row.
        accepted: 1 if the classifier accepts the row.
        prompt_ids: optional prompt id per row (cluster-robust variance).
        confidence: two-sided confidence level.
    """
    z = _check_confidence(confidence)
    y = _as_bool(labels, "labels")
    a = _as_bool(accepted, "accepted")
    n = _same_length(labels=y, accepted=a)
    if a.sum() == 0:
        raise ValueError("no accepted rows: lower the filter's strictness or label more completions")
    codes = _cluster_codes(prompt_ids, n)
    af = a.astype(float)
    num, den = _cluster_sums(codes, (y & a).astype(float), af)
    est = float(num.sum() / den.sum())
    se = _ratio_se(num, den, est)
    hi = est + z * se if (y & a).any() else zero_failure_upper(float(a.sum()), confidence)
    return ReweightedEstimate(
        estimate=est, se=se, lower=max(0.0, est - z * se), upper=min(1.0, hi), confidence=confidence,
        estimator="pooled", method="delta", n=n, n_accepted=int(a.sum()), n_failures=int((y & a).sum()),
        n_clusters=len(num), effective_sample_size=float(a.sum()), ht_estimate=math.nan, ratio_estimate=est,
    )


@dataclass(frozen=True)
class FailureRateCurve:
    """Filtered failure rate and acceptance rate as a function of the threshold (one labelled set).

    Attributes:
        thresholds: thresholds evaluated.
        estimate, lower, upper: per-threshold estimate and interval.
        acceptance: mean P(a=1 | x_i) over rows (the filter's acceptance rate; 1/acceptance is the
            expected number of generations per returned completion).
        estimates: the full :class:`ReweightedEstimate` per threshold.
    """

    thresholds: np.ndarray
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    acceptance: np.ndarray
    estimates: list[ReweightedEstimate]


def failure_rate_curve(
    labels: Any,
    scores: Any,
    accept_prob: Callable[[float], Any] | Any,
    thresholds: Sequence[float] | np.ndarray,
    prompt_ids: Any = None,
    confidence: float = 0.95,
    method: VarianceMethod = "delta",
    estimator: Estimator = "ratio",
    n_boot: int = 2000,
    seed: int = 0,
) -> FailureRateCurve:
    """:func:`filtered_failure_rate` at every threshold t, with a_i = 1[s_i <= t], from one labelled set.

    Args:
        labels: 1 for a failure, per labelled row.
        scores: classifier score of each labelled row's completion.
        accept_prob: either a function t -> per-row P(a=1|x_i) at threshold t, or an array of shape
            (len(thresholds), n_rows) giving it per threshold.
        thresholds: thresholds in [0, 1].
        prompt_ids, confidence, method, estimator, n_boot, seed: as in :func:`filtered_failure_rate`.
    """
    s = np.asarray(scores, dtype=float)
    ts = np.asarray(thresholds, dtype=float).ravel()
    for t in ts:
        check_threshold(t)
    table = None if callable(accept_prob) else np.asarray(accept_prob, dtype=float)
    if table is not None and table.shape != (len(ts), len(s)):
        raise ValueError(f"accept_prob array must have shape (len(thresholds), n_rows) = {(len(ts), len(s))}, "
                         f"got {table.shape}; or pass a function threshold -> per-row probabilities")
    out: list[ReweightedEstimate] = []
    acc = np.empty(len(ts))
    for j, t in enumerate(ts):
        pa = np.asarray(accept_prob(float(t)) if table is None else table[j], dtype=float)
        acc[j] = float(pa.mean()) if pa.size else math.nan
        out.append(filtered_failure_rate(labels, s <= t, pa, prompt_ids, confidence, method, estimator,
                                         n_boot, seed))
    return FailureRateCurve(ts, np.array([e.estimate for e in out]), np.array([e.lower for e in out]),
                            np.array([e.upper for e in out]), acc, out)


__all__ = [
    "FailureRateCurve",
    "ReweightedEstimate",
    "check_threshold",
    "estimate_accept_prob",
    "failure_rate_curve",
    "filtered_failure_rate",
    "importance_weights",
    "pooled_failure_rate",
    "zero_failure_upper",
]
