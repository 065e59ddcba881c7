"""Binomial intervals against statsmodels, exact formulas, and coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from nines.stats.binomial import binomial_interval, clopper_pearson, nines_line

SM = {"clopper-pearson": "beta", "wilson": "wilson", "jeffreys": "jeffreys"}


@pytest.mark.parametrize("method", list(SM))
@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (3, 1000), (50, 100), (100, 100), (7, 100_000)])
def test_matches_statsmodels(method: str, k: int, n: int) -> None:
    iv = binomial_interval(k, n, 0.95, method)  # type: ignore[arg-type]
    lo, hi = proportion_confint(k, n, alpha=0.05, method=SM[method])
    if method == "jeffreys" and k in (0, n):
        # statsmodels does not pin the Jeffreys bounds at 0 and 1 for the extreme counts; we do.
        return
    assert iv.lower == pytest.approx(lo, abs=1e-9) and iv.upper == pytest.approx(hi, abs=1e-9)


def test_zero_failures_upper_bound_is_exact() -> None:
    iv = clopper_pearson(0, 100_000)
    assert iv.upper == pytest.approx(1 - 0.025 ** (1 / 100_000), rel=1e-9)
    assert iv.lower == 0 and math.isclose(iv.nines, -math.log10(iv.upper))
    assert "from 0 failures in 100,000" in nines_line(iv)


def test_clopper_pearson_coverage_by_simulation() -> None:
    rng = np.random.default_rng(0)
    for p, n in [(0.002, 2000), (0.05, 300)]:
        ks = rng.binomial(n, p, 2000)
        cover = np.mean([clopper_pearson(int(k), n).lower <= p <= clopper_pearson(int(k), n).upper for k in ks])
        assert cover >= 0.94  # exact intervals are conservative: at least the nominal 95% (minus MC noise)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        clopper_pearson(5, 3)
    with pytest.raises(ValueError, match="unknown interval method"):
        binomial_interval(1, 2, method="bogus")  # type: ignore[arg-type]
