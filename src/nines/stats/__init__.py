"""Estimators with error bars: failure rates, reweighting, rare events, win rates.

Every estimator is a small pure function whose docstring gives its formula.
"""

from nines.stats.binomial import Interval, binomial_interval, clopper_pearson, jeffreys, nines_line, wilson

__all__ = ["Interval", "binomial_interval", "clopper_pearson", "jeffreys", "nines_line", "wilson"]
