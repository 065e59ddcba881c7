r"""When labels are too few for a figure: the bound they do support, and how many more are needed.

A failure-rate figure from labels is defensible only when the labels can carry it. Two cases fail:

* **No labelled failure got through.** The point estimate is 0 and a normal interval is [0, 0],
  which says nothing. The zero-failure bound does: with k = 0 failures in n independent trials the
  two-sided Clopper-Pearson upper bound is

      U(0, n) = 1 - (alpha/2)^(1/n),

  so the bound falls to a target u once n >= n_0(u) = ceil( ln(alpha/2) / ln(1 - u) ) (about 3.7/u
  at 95%). Weighted samples (reweighting, importance sampling) count as their Kish effective
  sample size ESS = (sum w)^2 / sum w^2; n labels then bound the rate like ESS trials, so n_0 trials
  need n_0 * n / ESS labels of the same design.
* **Too small an effective sample size.** With few effective trials the normal (delta-method)
  interval is not to be trusted; ``min_effective`` trials are needed before one is reported.

With failures and enough effective trials, the interval stands; if its upper end is above the
target but the estimate is below it, the half-width shrinks like 1/sqrt(n), so n (z se / (u - F̂))^2
labels bring the upper end to u.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from scipy.stats import beta, norm

from nines.stats.binomial import clopper_pearson

Status = Literal["estimate", "bound", "too_few"]


@dataclass(frozen=True)
class LabelsVerdict:
    """Whether a figure can be reported, and what more labels would buy.

    Attributes:
        status: ``estimate`` (the interval stands), ``bound`` (no failure seen; the zero-failure upper
            bound is at or under the target) or ``too_few`` (no defensible figure yet).
        target: the upper bound the team wants to show.
        upper: the upper bound the labels support now (``nan`` when there is none).
        labels: labels used.
        more_labels: further labels (of the same design) after which the stated bound is expected to
            hold; 0 when it already does, ``None`` when more labels cannot show it (the estimate is
            above the target).
        reason: one sentence for the report.
    """

    status: Status
    target: float
    upper: float
    labels: int
    more_labels: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)


def _check_target(target: float) -> float:
    u = float(target)
    if not 0.0 < u < 1.0 or math.isnan(u):
        raise ValueError(f"the target bound must be a failure rate in (0, 1), e.g. 0.01; got {target!r}")
    return u


def zero_failure_trials(target: float, confidence: float = 0.95) -> int:
    """Smallest n with the two-sided Clopper-Pearson upper bound U(0, n) <= ``target``.

    n_0 = ceil(ln(alpha/2) / ln(1 - target)); e.g. 368 trials bound a rate under 1% at 95%.
    """
    u = _check_target(target)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    n = math.ceil(math.log((1 - confidence) / 2) / math.log1p(-u))
    # Guard against floating-point edge effects at the boundary.
    while n > 1 and clopper_pearson(0, n - 1, confidence).upper <= u:
        n -= 1
    while clopper_pearson(0, n, confidence).upper > u:
        n += 1
    return n


def smallest_n(bound: Callable[[int], float], n: int, target: float, limit: int = 10**9) -> int | None:
    """Smallest m >= n with ``bound(m) <= target`` for a bound non-increasing in m (None past ``limit``)."""
    if bound(n) <= target:
        return n
    hi = max(2 * n, 1)
    while bound(hi) > target:
        if hi >= limit:
            return None
        hi = min(limit, hi * 2)
    lo = max(n, hi // 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if bound(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def weighted_zero_bound(ess: float, confidence: float = 0.95) -> float:
    """U(0, ESS): the zero-failure upper bound at the Kish effective sample size (1 when ESS < 1)."""
    m = math.floor(ess)
    return 1.0 if m < 1 else clopper_pearson(0, m, confidence).upper


def korn_graubard_upper(estimate: float, se: float, ess: float, confidence: float = 0.95) -> float:
    """Clopper-Pearson upper bound at an effective sample size (Korn and Graubard, 1998).

    n* = min(p(1-p)/se^2, ESS) (the design-based effective size, capped at Kish's), k* = p n*, and the
    bound is the Beta(1 - alpha/2; k* + 1, n* - k*) quantile: for equal weights it is the exact
    Clopper-Pearson bound, and unlike the normal interval it stays honest with a handful of failures.
    """
    p = float(estimate)
    n = ess if not se > 0 else min(p * (1 - p) / se**2, ess)
    if n < 1:
        return 1.0
    k = p * n
    return 1.0 if k >= n else float(beta.ppf(1 - (1 - confidence) / 2, k + 1, n - k))


def verdict(estimate: float, se: float, upper: float, labels: int, failures: int, ess: float, target: float,
            confidence: float = 0.95, min_effective: float = 30.0, min_failures: int = 10) -> LabelsVerdict:
    """The verdict on a weighted failure-rate estimate (reweighted from unfiltered labels).

    Args:
        estimate: the point estimate.
        se: its standard error.
        upper: the interval's upper end (used when there are failures).
        labels: labelled rows used.
        failures: accepted labelled failures (k).
        ess: Kish effective sample size of the weights.
        target: the upper bound to show, e.g. 0.01.
        confidence: the interval's confidence.
        min_effective: effective trials needed before a normal interval is reported.
        min_failures: under this many failures the upper end is at least the Korn-Graubard bound
            (:func:`korn_graubard_upper`), since the normal one is too low with few failures.
    """
    u = _check_target(target)
    if 0 < failures < min_failures:
        upper = max(upper, korn_graubard_upper(estimate, se, ess, confidence))
    ratio = labels / ess if ess > 0 else math.inf
    if failures == 0:
        bound = weighted_zero_bound(ess, confidence)
        if bound <= u:
            return LabelsVerdict("bound", u, bound, labels, 0,
                                 f"no accepted failure in {labels:,} labels (effective sample size {ess:.0f}): "
                                 f"the rate is below {bound:.3g} at {confidence:.0%} (zero-failure bound)")
        need = zero_failure_trials(u, confidence)
        more = math.ceil(need * ratio) - labels if math.isfinite(ratio) else None
        return LabelsVerdict("too_few", u, bound, labels, None if more is None else max(more, 0),
                             f"no accepted failure in {labels:,} labels, but the zero-failure bound {bound:.3g} is "
                             f"above the target {u:.3g}: about {need:,} effective trials are needed"
                             + ("" if more is None else f", i.e. {max(more, 0):,} more labels of this kind"))
    if ess < min_effective:
        more = math.ceil(min_effective * ratio) - labels if math.isfinite(ratio) else None
        return LabelsVerdict("too_few", u, math.nan, labels, None if more is None else max(more, 0),
                             f"effective sample size {ess:.1f} is under {min_effective:.0f}: the interval cannot "
                             "be trusted" + ("" if more is None else f"; about {max(more, 0):,} more labels needed"))
    if upper <= u:
        return LabelsVerdict("estimate", u, upper, labels, 0, f"the upper end {upper:.3g} is under the target {u:.3g}")
    if estimate >= u or not se > 0:
        return LabelsVerdict("estimate", u, upper, labels, None,
                             f"the estimate {estimate:.3g} is not below the target {u:.3g}: more labels will not "
                             "show the target, a better filter might")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    total = math.ceil(labels * (z * se / (u - estimate)) ** 2)
    return LabelsVerdict("estimate", u, upper, labels, max(total - labels, 0),
                         f"the upper end {upper:.3g} is above the target {u:.3g}; about {max(total - labels, 0):,} "
                         "more labels should bring it under (if the estimate holds)")


def design_verdict(failures: int, labels: int, upper: float, conservative_upper: float,
                   zero_bound: Callable[[int], float], target: float, confidence: float = 0.95,
                   min_failures: int = 10) -> LabelsVerdict:
    """The verdict on a designed (importance or stratified) estimate.

    With fewer than ``min_failures`` labelled failures the normal interval of a weighted estimate is not
    to be trusted (its skewed weights make it cover far less than nominal), so the figure is the design's
    conservative upper bound (``conservative_upper``: the largest weight times the Clopper-Pearson bound,
    which needs no normal approximation) instead.

    Args:
        failures: labelled failures.
        labels: labels used.
        upper: the estimate's upper end (the normal one, floored at the Korn-Graubard bound).
        conservative_upper: the design's conservative bound.
        zero_bound: m -> the design's zero-failure bound with m labels (non-increasing in m).
        target: the upper bound to show.
        confidence: the confidence level (for the sentence).
        min_failures: labelled failures needed before the normal interval is reported.
    """
    u = _check_target(target)
    if failures >= min_failures:
        return LabelsVerdict("estimate", u, upper, labels, 0 if upper <= u else None,
                             f"{failures} labelled failures; the upper end {upper:.3g} is "
                             f"{'under' if upper <= u else 'above'} the target {u:.3g}")
    few = "no labelled failure" if failures == 0 else f"only {failures} labelled failures (under {min_failures})"
    if conservative_upper <= u:
        return LabelsVerdict("bound", u, conservative_upper, labels, 0,
                             f"{few}: the design's conservative bound puts the rate below {conservative_upper:.3g} "
                             f"at {confidence:.0%}")
    more = None
    if failures == 0:
        m = smallest_n(zero_bound, max(labels, 1), u)
        more = None if m is None else max(m - labels, 0)
    return LabelsVerdict("too_few", u, conservative_upper, labels, more,
                         f"{few}, and the design's conservative bound {conservative_upper:.3g} is above the target "
                         f"{u:.3g}" + ("" if more is None else f": about {more:,} more labels of this plan are needed")
                         + ("" if failures == 0 else f"; label until {min_failures} failures are found or the bound "
                            "falls under the target"))


__all__ = ["LabelsVerdict", "design_verdict", "korn_graubard_upper", "smallest_n", "verdict", "weighted_zero_bound", "zero_failure_trials"]
