"""Estimators with error bars: failure rates, reweighting, rare events, win rates.

Every estimator is a small pure function whose docstring gives its formula. The package is pure
numpy/scipy/statsmodels and imports nothing else of nines but itself: procedures that run a generator,
the filter or a judge to produce the numbers live in :mod:`nines.evaluate` (e.g. the win-rate designs
in :mod:`nines.evaluate.winrate`), and exact scenarios for testing the estimators in :mod:`nines.testing`.

- :mod:`~nines.stats.binomial`: exact (Clopper-Pearson), Wilson and Jeffreys intervals; the nines line.
- :mod:`~nines.stats.reweight`: the filtered policy's failure rate from unfiltered labels.
- :mod:`~nines.stats.rare`, :mod:`~nines.stats.rare_stratified`: importance and stratified sampling on the
  classifier score.
- :mod:`~nines.stats.winrate`: the filtered-vs-unfiltered win rate from judge outcomes.
- :mod:`~nines.stats.prompt_weights`: self-normalised reweighting of a prompt sample from q to p.
- :mod:`~nines.stats.batch_vs_sequential`: exact output distributions of the two filter policies.
- :mod:`~nines.stats.understanding`: how often the generator itself implies the injury it wrote.
"""

from nines.stats.batch_vs_sequential import (
    PolicyComparison,
    PolicyReport,
    batch_safest_distribution,
    compare_policies,
    policy_difference_report,
    sequential_distribution,
)
from nines.stats.binomial import Interval, binomial_interval, clopper_pearson, jeffreys, nines_line, wilson
from nines.stats.prompt_weights import (
    ReweightedMean,
    effective_sample_size,
    reweighted_failure_rate,
    reweighted_mean,
    reweighted_winrate,
)
from nines.stats.rare import (
    ImportanceSample,
    RareEstimate,
    filtered_target_weights,
    importance_estimate,
    importance_sample,
    proposal_density,
)
from nines.stats.rare_stratified import StratifiedSample, stratified_estimate, stratified_sample
from nines.stats.reweight import (
    FailureRateCurve,
    ReweightedEstimate,
    estimate_accept_prob,
    failure_rate_curve,
    filtered_failure_rate,
    importance_weights,
    pooled_failure_rate,
)
from nines.stats.understanding import UnderstandingResult, split_egregious, understanding_results
from nines.stats.winrate import WinRate, exact_winrate, winrate_from_outcomes

__all__ = [
    "FailureRateCurve", "ImportanceSample", "Interval", "PolicyComparison", "PolicyReport", "RareEstimate",
    "ReweightedEstimate", "ReweightedMean", "StratifiedSample", "UnderstandingResult", "WinRate",
    "batch_safest_distribution", "binomial_interval", "clopper_pearson", "compare_policies",
    "effective_sample_size", "estimate_accept_prob", "exact_winrate", "failure_rate_curve",
    "filtered_failure_rate", "filtered_target_weights", "importance_estimate", "importance_sample",
    "importance_weights", "jeffreys", "nines_line", "policy_difference_report",
    "pooled_failure_rate", "proposal_density", "reweighted_failure_rate", "reweighted_mean", "reweighted_winrate",
    "sequential_distribution", "split_egregious", "stratified_estimate", "stratified_sample",
    "understanding_results", "wilson", "winrate_from_outcomes",
]
