"""Re-export of :mod:`nines.stats.binomial` (the evaluation code's historical import path)."""

from nines.stats.binomial import (
    Interval,
    Method,
    binomial_interval,
    clopper_pearson,
    jeffreys,
    nines_line,
    wilson,
)

__all__ = ["Interval", "Method", "binomial_interval", "clopper_pearson", "jeffreys", "nines_line", "wilson"]
