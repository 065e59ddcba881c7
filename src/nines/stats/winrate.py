r"""Win rate of filtered over unfiltered completions, judged pairwise.

The estimand is

    W = E_x P(f beats u),   f ~ p(. | x, accepted),  u ~ p(. | x) independent,

with ties counting 1/2 (a judge outcome o is 1, 1/2 or 0). W = 1/2 means the filter does not
change quality as the judge sees it; W < 1/2 means filtering costs quality.

This module is the estimator side, pure numpy/scipy: :func:`winrate_from_outcomes` turns per-prompt
outcomes into a mean with an interval, and :func:`exact_winrate` gives the exact W of a discrete toy
model. The two designs that produce the outcomes by running a generator, the filter and a judge (the
naive one, and the coupled one that needs far fewer judge calls, with the proof that both are
unbiased) are :mod:`nines.evaluate.winrate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

IntervalMethod = Literal["t", "wilson", "bootstrap"]
_METHODS = ("t", "wilson", "bootstrap")


@dataclass(frozen=True)
class WinRate:
    """A win-rate estimate with a two-sided interval.

    Attributes:
        estimate: mean outcome (ties = 1/2).
        lower: lower end of the interval.
        upper: upper end of the interval.
        std_error: standard error of the mean, s / sqrt(n).
        confidence: two-sided confidence level.
        method: interval method (``"t"``, ``"wilson"`` or ``"bootstrap"``).
        design: ``"naive"``, ``"coupled"`` or ``"outcomes"`` (from recorded outcomes).
        n_prompts: outcomes averaged.
        judge_calls: judge calls spent (``None`` when unknown).
        n_refused: prompts dropped because the filter refused them.
    """

    estimate: float
    lower: float
    upper: float
    std_error: float
    confidence: float
    method: str
    design: str
    n_prompts: int
    judge_calls: int | None = None
    n_refused: int = 0

    @property
    def half_width(self) -> float:
        """(upper - lower) / 2."""
        return (self.upper - self.lower) / 2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["half_width"] = self.half_width
        return d

    def __str__(self) -> str:
        return (f"W = {self.estimate:.3f} [{self.lower:.3f}, {self.upper:.3f}] ({self.confidence:.0%} "
                f"{self.method}, {self.design}, n={self.n_prompts}, judge calls={self.judge_calls})")


def _check_outcomes(outcomes: Sequence[float] | np.ndarray) -> np.ndarray:
    o = np.asarray(outcomes, dtype=float).reshape(-1)
    if o.size == 0:
        raise ValueError("need at least one outcome to estimate a win rate")
    if not np.isin(o, (0.0, 0.5, 1.0)).all():
        bad = o[~np.isin(o, (0.0, 0.5, 1.0))][:5]
        raise ValueError(f"outcomes must be 1 (filtered better), 0 (unfiltered better) or 0.5 (tie); got {bad}")
    return o


def _interval(o: np.ndarray, confidence: float, method: str, n_boot: int, seed: int) -> tuple[float, float]:
    n, est = o.size, float(o.mean())
    if method == "t":
        if n < 2:
            return 0.0, 1.0
        half = float(student_t.ppf(1 - (1 - confidence) / 2, n - 1)) * float(o.std(ddof=1)) / math.sqrt(n)
        return max(0.0, est - half), min(1.0, est + half)
    if method == "wilson":
        # Wilson score interval on the mean of a [0, 1] variable: its variance is at most
        # p(1 - p), so this is conservative (very much so when many outcomes are exact ties).
        z = float(norm.ppf(1 - (1 - confidence) / 2))
        denom = 1 + z * z / n
        centre = (est + z * z / (2 * n)) / denom
        half = z * math.sqrt(est * (1 - est) / n + z * z / (4 * n * n)) / denom
        return max(0.0, centre - half), min(1.0, centre + half)
    rng = np.random.default_rng(seed)
    means = o[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    a = (1 - confidence) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def winrate_from_outcomes(
    outcomes: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    method: IntervalMethod = "t",
    design: str = "outcomes",
    judge_calls: int | None = None,
    n_refused: int = 0,
    n_boot: int = 2000,
    seed: int = 0,
) -> WinRate:
    """Win rate and interval from per-prompt outcomes in {0, 1/2, 1}.

    Point estimate: W = mean(o). Intervals:

    * ``"t"``: W ± t_{n-1, 1-a/2} s / sqrt(n), s the sample standard deviation;
    * ``"wilson"``: the Wilson score interval with p = W (valid since Var(o) <= W(1 - W));
    * ``"bootstrap"``: percentile bootstrap of the mean (``n_boot`` resamples, ``seed``).

    Works for either design: coupled outcomes are 1/2 exactly on accepted first draws.

    Args:
        outcomes: one outcome per prompt.
        confidence: two-sided level in (0, 1).
        method: ``"t"``, ``"wilson"`` or ``"bootstrap"``.
        design: label stored in the result.
        judge_calls: judge calls spent (defaults to the number of outcomes).
        n_refused: prompts dropped by the caller (stored).
        n_boot: bootstrap resamples.
        seed: bootstrap seed.

    Raises:
        ValueError: on empty or out-of-set outcomes, bad confidence or unknown method.
    """
    o = _check_outcomes(outcomes)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    if method not in _METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of {', '.join(_METHODS)}")
    lo, hi = _interval(o, confidence, method, n_boot, seed)
    se = float(o.std(ddof=1)) / math.sqrt(o.size) if o.size > 1 else math.nan
    return WinRate(
        estimate=float(o.mean()), lower=lo, upper=hi, std_error=se, confidence=confidence, method=method,
        design=design, n_prompts=int(o.size), judge_calls=o.size if judge_calls is None else judge_calls,
        n_refused=n_refused,
    )


def exact_winrate(
    first_probs: np.ndarray, accepted: np.ndarray, judge_prob: np.ndarray
) -> float:
    """Exact W for one prompt with a discrete completion distribution.

    W_x = sum_i sum_j f_i u_j J_ij with u = pi, f_i = pi_i a_i / sum(pi a), J_ij = E[judge(i, j)].

    Args:
        first_probs: pi, shape (m,), sums to 1.
        accepted: a_i in {0, 1} (or acceptance probabilities), shape (m,).
        judge_prob: J, shape (m, m).

    Raises:
        ValueError: on bad shapes or when nothing can be accepted.
    """
    pi = np.asarray(first_probs, dtype=float)
    a = np.asarray(accepted, dtype=float)
    j = np.asarray(judge_prob, dtype=float)
    if pi.ndim != 1 or a.shape != pi.shape or j.shape != (pi.size, pi.size):
        raise ValueError("need probs (m,), accepted (m,) and judge_prob (m, m)")
    mass = float((pi * a).sum())
    if mass <= 0:
        raise ValueError("no completion can be accepted: the filtered distribution is undefined")
    f = pi * a / mass
    return float(f @ j @ pi)
