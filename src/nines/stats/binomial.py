"""Binomial confidence intervals for failure rates, including the zero-failure upper bound."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from scipy.stats import beta, norm

Method = Literal["clopper-pearson", "wilson", "jeffreys"]


@dataclass(frozen=True)
class Interval:
    """A failure-rate estimate: ``k`` failures in ``n`` trials, the point estimate and a two-sided interval."""

    k: int
    n: int
    estimate: float
    lower: float
    upper: float
    confidence: float
    method: str

    @property
    def nines(self) -> float:
        """-log10 of the upper bound: 'at this confidence we have this many nines of reliability'."""
        return math.inf if self.upper <= 0 else -math.log10(self.upper)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nines"] = self.nines
        return d

    def __str__(self) -> str:
        return (f"{self.estimate:.3g} [{self.lower:.3g}, {self.upper:.3g}] "
                f"({self.k}/{self.n}, {self.confidence:.0%} {self.method})")


def _check(k: int, n: int, confidence: float) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Exact (Clopper-Pearson) interval.

    lower = Beta(a/2; k, n-k+1) quantile, upper = Beta(1-a/2; k+1, n-k) quantile, with a = 1 - confidence;
    lower is 0 when k = 0 and upper is 1 when k = n. With k = 0 the upper bound is 1 - (a/2)^(1/n),
    so zero failures in n trials still bounds the rate (about 3.7/n at 95% two-sided).
    """
    _check(k, n, confidence)
    if n == 0:
        return Interval(0, 0, math.nan, 0.0, 1.0, confidence, "clopper-pearson")
    a = 1 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return Interval(k, n, k / n, lo, hi, confidence, "clopper-pearson")


def wilson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    _check(k, n, confidence)
    if n == 0:
        return Interval(0, 0, math.nan, 0.0, 1.0, confidence, "wilson")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(k, n, p, max(0.0, centre - half), min(1.0, centre + half), confidence, "wilson")


def jeffreys(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Jeffreys interval: equal-tailed quantiles of Beta(k + 1/2, n - k + 1/2); 0 at k=0 and 1 at k=n."""
    _check(k, n, confidence)
    if n == 0:
        return Interval(0, 0, math.nan, 0.0, 1.0, confidence, "jeffreys")
    a = 1 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k + 0.5, n - k + 0.5))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 0.5, n - k + 0.5))
    return Interval(k, n, k / n, lo, hi, confidence, "jeffreys")


_METHODS = {"clopper-pearson": clopper_pearson, "wilson": wilson, "jeffreys": jeffreys}


def binomial_interval(k: int, n: int, confidence: float = 0.95, method: Method = "clopper-pearson") -> Interval:
    """Dispatch to one of the interval methods by name."""
    try:
        fn = _METHODS[method]
    except KeyError:
        raise ValueError(f"unknown interval method {method!r}; use one of {', '.join(_METHODS)}") from None
    return fn(k, n, confidence)


def nines_line(iv: Interval, what: str = "checked completions") -> str:
    """A plain sentence: 'at 95% confidence the failure rate is below 3.7e-05 (4.4 nines), from 0 failures in 100,000 ...'."""
    if iv.n == 0:
        return f"no {what}: nothing can be said about the failure rate"
    return (f"at {iv.confidence:.0%} confidence the failure rate is below {iv.upper:.2g} "
            f"({iv.nines:.1f} nines), from {iv.k:,} failure{'s' if iv.k != 1 else ''} in {iv.n:,} {what}")
