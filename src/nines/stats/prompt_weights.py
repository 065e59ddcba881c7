r"""Reweighting a prompt sample drawn from the wrong distribution.

Prompts x_1..x_n were drawn from q(x) but the quantity of interest is an average under p(x).
With importance weights w_i = p(x_i) / q(x_i) (p and q may be unnormalised: only ratios matter),
the self-normalised estimator and its delta-method variance are

    est   = sum_i w_i v_i / sum_i w_i
    Var   ~ sum_i w_i^2 (v_i - est)^2 / (sum_i w_i)^2
    ESS   = (sum_i w_i)^2 / sum_i w_i^2          (Kish effective sample size)

and the interval is est ± z_{1-a/2} sqrt(Var). A small ESS means a few prompts carry the whole
estimate and the normal interval is not to be trusted: a ``UserWarning`` is raised and
``low_ess`` is set when ESS < ``min_ess`` or ESS / n < ``min_ess_fraction``.

q must be positive wherever p is: a prompt type that q never draws cannot be reweighted into
existence (a ``ValueError`` says so if a sampled prompt has q = 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import beta, norm

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class ReweightedMean:
    """A self-normalised importance-weighted mean.

    Attributes:
        estimate: sum w v / sum w.
        lower: lower end of the normal interval (clipped to [0, 1] by the rate wrappers).
        upper: upper end.
        std_error: delta-method standard error.
        ess: Kish effective sample size (sum w)^2 / sum w^2.
        n: prompts used.
        confidence: two-sided level.
        low_ess: True when the ESS is below the warning threshold.
        conservative_upper: for failure rates only, a conservative upper bound (see
            :func:`reweighted_failure_rate`); ``None`` otherwise.
    """

    estimate: float
    lower: float
    upper: float
    std_error: float
    ess: float
    n: int
    confidence: float
    low_ess: bool
    conservative_upper: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def importance_weights(p: ArrayLike, q: ArrayLike) -> np.ndarray:
    """w = p / q per prompt.

    Raises:
        ValueError: on shape mismatch, negative or non-finite values, q = 0, or all-zero weights.
    """
    pa = np.asarray(p, dtype=float).reshape(-1)
    qa = np.asarray(q, dtype=float).reshape(-1)
    if pa.shape != qa.shape:
        raise ValueError(f"p and q need one value per prompt, got {pa.size} and {qa.size}")
    if not (np.isfinite(pa).all() and np.isfinite(qa).all()) or (pa < 0).any() or (qa < 0).any():
        raise ValueError("p and q must be finite, non-negative probabilities (or unnormalised weights)")
    if (qa <= 0).any():
        raise ValueError(
            "q(x) = 0 for a sampled prompt: it could not have been drawn from q; check that p and q "
            "are given in the same order as the values"
        )
    w = pa / qa
    if w.sum() <= 0:
        raise ValueError("every weight p/q is 0: no sampled prompt is possible under the target p")
    return w


def effective_sample_size(w: ArrayLike) -> float:
    """Kish ESS = (sum w)^2 / sum w^2 (n for equal weights, 1 when one weight dominates)."""
    wa = np.asarray(w, dtype=float)
    return float(wa.sum() ** 2 / (wa**2).sum())


def reweighted_mean(
    values: ArrayLike,
    p: ArrayLike,
    q: ArrayLike,
    confidence: float = 0.95,
    min_ess: float = 30.0,
    min_ess_fraction: float = 0.1,
) -> ReweightedMean:
    """Self-normalised importance-weighted mean of ``values`` under p, from prompts drawn from q.

    est = sum w v / sum w with w = p / q; Var = sum w^2 (v - est)^2 / (sum w)^2;
    interval est ± z sqrt(Var); ESS = (sum w)^2 / sum w^2.

    Args:
        values: one value per prompt (an outcome, a label, a score...).
        p: target probability (or unnormalised weight) of each sampled prompt.
        q: sampling probability (or unnormalised weight) of each sampled prompt.
        confidence: two-sided level in (0, 1).
        min_ess: warn when ESS is below this.
        min_ess_fraction: warn when ESS / n is below this.

    Warns:
        UserWarning: when the ESS is low (``low_ess`` is then True).

    Raises:
        ValueError: on mismatched lengths, non-finite values, q = 0 or bad confidence.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    w = importance_weights(p, q)
    if v.shape != w.shape:
        raise ValueError(f"need one value per prompt: {v.size} values for {w.size} weights")
    if not np.isfinite(v).all():
        raise ValueError("values must be finite; drop prompts without a value (and their p, q) first")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    sw = w.sum()
    est = float((w * v).sum() / sw)
    se = float(math.sqrt((w**2 * (v - est) ** 2).sum()) / sw)
    ess = effective_sample_size(w)
    low = ess < min_ess or ess / v.size < min_ess_fraction
    if low:
        warnings.warn(
            f"effective sample size {ess:.1f} of {v.size} prompts is low (threshold {min_ess:g} or "
            f"{min_ess_fraction:.0%} of n): a few prompts dominate and the interval is unreliable; "
            "sample more prompts, or sample them closer to the target distribution",
            UserWarning,
            stacklevel=2,
        )
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    return ReweightedMean(est, est - z * se, est + z * se, se, ess, int(v.size), confidence, low)


def _clip(r: ReweightedMean, **extra: Any) -> ReweightedMean:
    d = r.to_dict()
    d.update(lower=max(0.0, r.lower), upper=min(1.0, r.upper), **extra)
    return ReweightedMean(**d)


def reweighted_winrate(
    outcomes: ArrayLike, p: ArrayLike, q: ArrayLike, confidence: float = 0.95, **kwargs: Any
) -> ReweightedMean:
    """Win rate (outcomes in {0, 1/2, 1}) under p from prompts drawn from q; interval clipped to [0, 1].

    Keyword arguments go to :func:`reweighted_mean`.
    """
    o = np.asarray(outcomes, dtype=float).reshape(-1)
    if not np.isin(o, (0.0, 0.5, 1.0)).all():
        raise ValueError("win-rate outcomes must be 0, 0.5 or 1 (judge outcomes, ties = 0.5)")
    return _clip(reweighted_mean(o, p, q, confidence, **kwargs))


def reweighted_failure_rate(
    labels: ArrayLike, p: ArrayLike, q: ArrayLike, confidence: float = 0.95, **kwargs: Any
) -> ReweightedMean:
    """Failure rate (labels 0/1) under p from prompts drawn from q, with a conservative upper bound.

    The normal interval is poor with few failures, so ``conservative_upper`` also gives the
    Korn-Graubard bound: a Clopper-Pearson upper limit with the effective sample size,

        n* = ESS,  k* = est * n*,   upper = Beta(1 - a/2; k* + 1, n* - k*)   (1 - (a/2)^(1/n*) at k* = 0)

    and ``upper`` of the result is the larger of the normal and the Korn-Graubard limits.

    Keyword arguments go to :func:`reweighted_mean`.
    """
    y = np.asarray(labels, dtype=float).reshape(-1)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("failure labels must be 0 (safe) or 1 (failure); booleans are fine")
    r = reweighted_mean(y, p, q, confidence, **kwargs)
    a = 1 - confidence
    n_eff = r.ess
    k_eff = r.estimate * n_eff
    if k_eff >= n_eff:
        kg = 1.0
    elif k_eff <= 0:
        kg = 1.0 - (a / 2) ** (1.0 / n_eff)
    else:
        kg = float(beta.ppf(1 - a / 2, k_eff + 1, n_eff - k_eff))
    clipped = _clip(r, conservative_upper=kg)
    d = clipped.to_dict()
    d["upper"] = max(clipped.upper, kg)
    return ReweightedMean(**d)
