"""Reweighted filtered-failure-rate estimators, checked against StoryWorld's exact truth by simulation.

Scenario: default prompts, a weak synthetic classifier (injurious logit -1, hash noise, prompt-level
shift by tension and prior injury) at t = 0.7, so P(a|x) ranges 0.21..0.98 across prompt keys and
F = 0.0306 while the pooled ratio of means converges to 0.0202.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from nines.stats.reweight import (
    estimate_accept_prob,
    failure_rate_curve,
    filtered_failure_rate,
    importance_weights,
    pooled_failure_rate,
    zero_failure_upper,
)
from nines.testing import DEFAULT_OUTCOME_LOGIT, FilterScenario, storyworld_scenario

T = 0.7
REPS = 1000


@lru_cache(maxsize=1)
def scenario() -> FilterScenario:
    ol = {**DEFAULT_OUTCOME_LOGIT, "explicit_injury": -1.0, "death": -1.0, "indirect_injury": -1.5,
          "worsened_injury": -1.0}
    return storyworld_scenario(outcome_logit=ol, noise_sd=1.5, tension_shift=(0.0, 1.0, 2.5), prior_shift=1.0)


def draw(reps: int, n_prompts: int, per_prompt: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All replications at once: labels, accepted, accept_prob, each of shape (reps, n_prompts*per_prompt)."""
    sc = scenario()
    rng = np.random.default_rng(seed)
    keys = np.repeat(sc.sample_keys((reps, n_prompts), rng), per_prompt, axis=1)
    cells = sc.sample_cells(keys, rng)
    y = sc.labels[keys, cells]
    a = sc.scores[keys, cells] <= T
    return y, a, sc.accept_prob(T)[keys]


def summarize(ests: list, truth: float) -> tuple[float, float, float]:
    est = np.array([e.estimate for e in ests])
    cover = np.mean([e.lower <= truth <= e.upper for e in ests])
    bias_z = (est.mean() - truth) / (est.std(ddof=1) / math.sqrt(len(est)))
    return float(est.mean()), float(bias_z), float(cover)


def test_scenario_truth_is_what_the_text_says() -> None:
    sc = scenario()
    pa = sc.accept_prob(T)
    assert pa.min() < 0.3 and pa.max() > 0.95
    assert sc.failure_rate(T) == pytest.approx(0.0306, abs=5e-4)
    assert sc.pooled_rate(T) == pytest.approx(0.0202, abs=5e-4)


@pytest.mark.parametrize("estimator", ["ht", "ratio"])
def test_unbiased_and_covers_iid(estimator: str) -> None:
    truth = scenario().failure_rate(T)
    y, a, pa = draw(REPS, 4000, 1, seed=11)
    ests = [filtered_failure_rate(y[r], a[r], pa[r], estimator=estimator) for r in range(REPS)]  # type: ignore[arg-type]
    mean, bias_z, cover = summarize(ests, truth)
    print(f"{estimator}/delta iid: mean {mean:.5f} truth {truth:.5f} bias z {bias_z:+.2f} coverage {cover:.3f}")
    assert abs(bias_z) < 3
    assert 0.93 <= cover <= 0.97


@pytest.mark.parametrize("estimator", ["ht", "ratio"])
def test_unbiased_and_covers_clustered(estimator: str) -> None:
    """Four completions per prompt: the cluster-robust variance must still give 95% coverage."""
    truth = scenario().failure_rate(T)
    y, a, pa = draw(REPS, 1000, 4, seed=12)
    ids = np.repeat(np.arange(1000), 4)
    ests = [filtered_failure_rate(y[r], a[r], pa[r], prompt_ids=ids, estimator=estimator) for r in range(REPS)]  # type: ignore[arg-type]
    mean, bias_z, cover = summarize(ests, truth)
    print(f"{estimator}/delta clustered: mean {mean:.5f} bias z {bias_z:+.2f} coverage {cover:.3f}")
    assert abs(bias_z) < 3
    assert 0.93 <= cover <= 0.97


def test_bootstrap_covers_clustered() -> None:
    """Cluster bootstrap (200 replications, percentile): wider tolerance band [0.92, 0.975]."""
    truth = scenario().failure_rate(T)
    y, a, pa = draw(REPS, 1000, 4, seed=13)
    ids = np.repeat(np.arange(1000), 4)
    ests = [filtered_failure_rate(y[r], a[r], pa[r], prompt_ids=ids, method="bootstrap", n_boot=200, seed=r)
            for r in range(REPS)]
    mean, bias_z, cover = summarize(ests, truth)
    print(f"ratio/bootstrap clustered: mean {mean:.5f} bias z {bias_z:+.2f} coverage {cover:.3f}")
    assert abs(bias_z) < 3
    assert 0.92 <= cover <= 0.975


def test_pooled_is_biased_when_acceptance_varies() -> None:
    sc = scenario()
    truth, pooled_limit = sc.failure_rate(T), sc.pooled_rate(T)
    y, a, _ = draw(REPS, 4000, 1, seed=14)
    ests = [pooled_failure_rate(y[r], a[r]) for r in range(REPS)]
    mean, bias_z, cover = summarize(ests, truth)
    print(f"pooled: mean {mean:.5f} (limit {pooled_limit:.5f}) truth {truth:.5f} bias z {bias_z:+.1f} coverage {cover:.3f}")
    assert bias_z < -10  # optimistic: risky prompts are rejected more and excluded from the average
    assert cover < 0.5
    assert mean == pytest.approx(pooled_limit, rel=0.02)


def test_pooled_equals_reweighted_when_acceptance_is_constant() -> None:
    y = np.array([1, 0, 0, 1, 0, 0, 1, 0])
    a = np.array([1, 1, 0, 1, 1, 0, 0, 1])
    pa = np.full(8, 0.6)
    assert pooled_failure_rate(y, a).estimate == pytest.approx(filtered_failure_rate(y, a, pa).estimate)


def test_excludes_prompts_that_never_accept() -> None:
    y = np.array([1, 1, 0, 1])
    a = np.array([0, 0, 1, 1])
    pa = np.array([0.0, 0.0, 0.5, 0.5])
    e = filtered_failure_rate(y, a, pa, estimator="ht")
    assert e.n == 2 and e.excluded_share == 0.5
    assert e.estimate == pytest.approx((0 + 1 / 0.5) / 2)  # HT: mean of y a / P(a|x) over kept rows
    assert e.ratio_estimate == pytest.approx(0.5)


def test_estimated_accept_prob_and_curve() -> None:
    sc = scenario()
    rng = np.random.default_rng(5)
    keys = sc.sample_keys(3000, rng)
    cells = sc.sample_cells(keys, rng)
    y, s = sc.labels[keys, cells], sc.scores[keys, cells]
    # Acceptance per prompt key from 400 cheap unlabelled scored samples each.
    pool = {k: sc.scores[k, sc.sample_cells(np.full(400, k), rng)] for k in range(len(sc.key_probs))}
    ts = [0.5, 0.7, 0.9]

    def pa_fn(t: float) -> np.ndarray:
        est = estimate_accept_prob(pool, t)
        assert isinstance(est, dict)
        return np.array([est[k] for k in keys.tolist()])

    curve = failure_rate_curve(y, s, pa_fn, ts)
    exact = failure_rate_curve(y, s, np.stack([sc.accept_prob(t)[keys] for t in ts]), ts)
    for j, t in enumerate(ts):
        assert curve.lower[j] <= sc.failure_rate(t) * 1.3 + 0.003
        assert abs(curve.estimate[j] - exact.estimate[j]) < 0.005
    assert np.all(np.diff(curve.acceptance) > 0)


def test_bad_inputs_raise_with_hints() -> None:
    with pytest.raises(ValueError, match="one entry per labelled row"):
        filtered_failure_rate([1, 0], [1, 1, 0], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        filtered_failure_rate([1, 0], [1, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="accept_prob 0"):
        importance_weights([1, 0], [0.0, 0.5])
    with pytest.raises(ValueError, match="threshold"):
        estimate_accept_prob([[0.1, 0.2]], 1.5)
    with pytest.raises(ValueError, match="0/1"):
        filtered_failure_rate([2, 0], [1, 1], [0.5, 0.5])


def test_no_failure_gives_the_exact_zero_failure_bound_not_zero_width() -> None:
    """With no accepted failure the delta interval would be [0, 0]; the upper bound is Clopper-Pearson's."""
    from scipy.stats import beta

    n = 400
    labels, accepted = np.zeros(n, bool), np.ones(n, bool)
    cp = float(beta.ppf(0.975, 1, n))  # CP two-sided upper bound for 0 of n
    r = filtered_failure_rate(labels, accepted, np.ones(n))
    assert r.estimate == 0 and r.upper == pytest.approx(cp, rel=1e-9)
    assert pooled_failure_rate(labels, accepted).upper == pytest.approx(cp, rel=1e-9)
    # Unequal weights leave fewer effective rows: a wider bound.
    p = np.where(np.arange(n) % 2 == 0, 0.1, 0.9)
    wide = filtered_failure_rate(labels, accepted, p)
    assert wide.upper > cp and wide.upper == pytest.approx(zero_failure_upper(wide.effective_sample_size, 0.95))


def test_zero_failure_bound_covers_a_small_true_rate() -> None:
    """Simulated: true rate 0.002, 300 rows; runs with no failure still cover it 95% of the time overall."""
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        labels = rng.random(300) < 0.002
        r = filtered_failure_rate(labels, np.ones(300, bool), np.ones(300))
        covered += r.lower <= 0.002 <= r.upper
    # Without the bound every zero-failure run (about 55% of them) would miss the truth.
    assert covered / 2000 >= 0.9


@pytest.mark.parametrize(("n_prompts", "per_prompt"), [(200, 1), (400, 1), (100, 4)])
def test_upper_end_holds_with_a_handful_of_failures(n_prompts: int, per_prompt: int) -> None:
    """3-15 accepted failures: the normal upper end alone held in only 85-90% of runs here (measured),
    against the 97.5% a two-sided 95% interval promises on each side. With the Korn-Graubard floor it
    must hold in at least 95% (measured 0.96-0.98)."""
    truth = scenario().failure_rate(T)
    y, a, pa = draw(REPS, n_prompts, per_prompt, seed=21)
    ids = np.repeat(np.arange(n_prompts), per_prompt)
    ests = [filtered_failure_rate(y[r], a[r], pa[r], prompt_ids=ids) for r in range(REPS)]
    assert 2 <= np.mean([e.n_failures for e in ests]) <= 15  # the regime this test is about
    assert np.mean([truth <= e.upper for e in ests]) >= 0.95
    # Conservative, not vacuous: the typical upper end stays within 3x the truth.
    assert np.median([e.upper for e in ests]) < 3 * truth


def test_upper_end_is_exactly_clopper_pearson_with_equal_weights() -> None:
    """With P(a|x) = 1 for every prompt the reweighted estimate is a plain binomial proportion, and the
    floored upper end is its Clopper-Pearson bound (at n - 1 rows: the delta variance divides by n - 1)."""
    from nines.stats.binomial import clopper_pearson

    n, k = 500, 4
    labels = np.arange(n) < k
    r = filtered_failure_rate(labels, np.ones(n, bool), np.ones(n))
    assert clopper_pearson(k, n).upper < r.upper < clopper_pearson(k, n - 1).upper
    assert r.upper > r.estimate + 1.96 * r.se  # wider than the normal interval's upper end
