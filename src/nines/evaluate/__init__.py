"""Failure rates with exact bounds, the evaluation run and its HTML report."""

from nines.evaluate.bounds import Interval, binomial_interval, clopper_pearson, nines_line

__all__ = ["Interval", "binomial_interval", "clopper_pearson", "nines_line"]
