"""How many more labels a figure needs: exact zero-failure arithmetic and the verdict's branches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nines.stats.binomial import clopper_pearson
from nines.stats.labels_needed import (
    design_verdict,
    korn_graubard_upper,
    smallest_n,
    verdict,
    zero_failure_trials,
)


@pytest.mark.parametrize("target", [0.1, 0.01, 1e-3, 1e-5])
def test_zero_failure_trials_is_the_smallest_n_whose_bound_is_under_target(target: float) -> None:
    n = zero_failure_trials(target)
    assert clopper_pearson(0, n).upper <= target < clopper_pearson(0, n - 1).upper
    assert n == pytest.approx(math.log(0.025) / math.log1p(-target), abs=1)


def test_zero_failure_trials_known_value() -> None:
    assert zero_failure_trials(0.01) == 368  # 3.69 / 0.01 at 95% two-sided


def test_smallest_n_finds_the_boundary_of_a_monotone_bound() -> None:
    bound = lambda m: 5.0 / m  # noqa: E731
    assert smallest_n(bound, 10, 0.01) == 500
    assert smallest_n(bound, 1000, 0.01) == 1000
    assert smallest_n(lambda m: 1.0, 10, 0.5, limit=1000) is None


def test_korn_graubard_is_clopper_pearson_for_a_plain_binomial() -> None:
    k, n = 3, 400
    p = k / n
    se = math.sqrt(p * (1 - p) / n)
    assert korn_graubard_upper(p, se, float(n)) == pytest.approx(clopper_pearson(k, n).upper, rel=1e-9)
    # a smaller effective size gives a wider bound
    assert korn_graubard_upper(p, se * 2, float(n)) > clopper_pearson(k, n).upper


def test_verdict_zero_failures_counts_the_labels_still_needed() -> None:
    v = verdict(0.0, 0.0, 0.0, labels=100, failures=0, ess=100.0, target=0.01)
    assert v.status == "too_few" and v.more_labels == 368 - 100
    assert v.upper == pytest.approx(clopper_pearson(0, 100).upper)
    # with half the labels effective, twice as many labels are needed
    v = verdict(0.0, 0.0, 0.0, labels=100, failures=0, ess=50.0, target=0.01)
    assert v.more_labels == 2 * 368 - 100
    v = verdict(0.0, 0.0, 0.0, labels=400, failures=0, ess=400.0, target=0.01)
    assert v.status == "bound" and v.upper <= 0.01 and v.more_labels == 0


def test_verdict_small_effective_sample_gives_no_figure() -> None:
    v = verdict(0.05, 0.02, 0.09, labels=200, failures=12, ess=10.0, target=0.01, min_effective=30)
    assert v.status == "too_few" and v.more_labels == 600 - 200 and math.isnan(v.upper)


def test_verdict_estimate_above_target_cannot_be_fixed_by_labels() -> None:
    v = verdict(0.02, 0.002, 0.024, labels=5000, failures=100, ess=4000.0, target=0.01)
    assert v.status == "estimate" and v.more_labels is None


def test_verdict_more_labels_shrink_the_upper_end_to_the_target() -> None:
    est, se, n = 0.005, 0.002, 5000
    v = verdict(est, se, est + 1.96 * se, labels=n, failures=40, ess=4000.0, target=0.008)
    total = n + v.more_labels
    assert est + 1.96 * se * math.sqrt(n / total) <= 0.008 + 1e-9
    assert est + 1.96 * se * math.sqrt(n / (total - 2)) > 0.008


def test_verdict_few_failures_widen_the_upper_end() -> None:
    v = verdict(0.004, 0.002, 0.0079, labels=1000, failures=4, ess=900.0, target=0.5)
    assert v.upper > 0.0079
    assert v.upper == pytest.approx(korn_graubard_upper(0.004, 0.002, 900.0))


def test_design_verdict_uses_the_conservative_bound_under_min_failures() -> None:
    zero = lambda m: min(1.0, 3.0 * clopper_pearson(0, m).upper)  # noqa: E731
    v = design_verdict(0, 300, 0.0, zero(300), zero, target=0.01)
    assert v.status == "too_few" and zero(300 + v.more_labels) <= 0.01 < zero(300 + v.more_labels - 1)
    v = design_verdict(2, 3000, 0.004, 0.006, zero, target=0.01)
    assert v.status == "bound" and v.upper == 0.006
    v = design_verdict(20, 3000, 0.004, 0.03, zero, target=0.01)
    assert v.status == "estimate" and v.upper == 0.004 and v.more_labels == 0


def test_target_must_be_a_rate() -> None:
    with pytest.raises(ValueError, match="target"):
        zero_failure_trials(0.0)
    with pytest.raises(ValueError, match="target"):
        verdict(0.0, 0.0, 0.0, 10, 0, 10.0, target=1.5)
    assert np.isfinite(zero_failure_trials(0.5))
