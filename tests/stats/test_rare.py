"""Rare-event designs (importance sampling, stratified), checked by simulation on a StoryWorld pool.

The pool: 10,000 prompts x 5 completions drawn from the exact StoryWorld scenario (weak synthetic
classifier, t = 0.7). Every pool item has an oracle label, so the estimand F_pool = sum_i p_i y_i is
known exactly; it is itself checked against the scenario's exact F (per-prompt target) and pooled rate
(uniform target). Each estimator is then replicated 1,000 times on that pool.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from nines.stats.binomial import clopper_pearson
from nines.stats.rare import filtered_target_weights, importance_estimate, importance_sample
from nines.stats.rare_stratified import stratified_estimate, stratified_sample
from nines.testing import DEFAULT_OUTCOME_LOGIT, storyworld_scenario

T = 0.7
REPS = 1000
N_PROMPTS, PER_PROMPT = 10_000, 5


@lru_cache(maxsize=1)
def pool() -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(scores, labels, prompt ids, exact F, exact pooled rate)."""
    ol = {**DEFAULT_OUTCOME_LOGIT, "explicit_injury": -1.0, "death": -1.0, "indirect_injury": -1.5,
          "worsened_injury": -1.0}
    sc = storyworld_scenario(outcome_logit=ol, noise_sd=1.5, tension_shift=(0.0, 1.0, 2.5), prior_shift=1.0)
    rng = np.random.default_rng(2024)
    keys = np.repeat(sc.sample_keys(N_PROMPTS, rng), PER_PROMPT)
    cells = sc.sample_cells(keys, rng)
    ids = np.repeat(np.arange(N_PROMPTS), PER_PROMPT)
    return sc.scores[keys, cells], sc.labels[keys, cells], ids, sc.failure_rate(T), sc.pooled_rate(T)


def check(name: str, ests: list, truth: float, lo: float = 0.93, hi: float = 0.97) -> None:
    est = np.array([e.estimate for e in ests])
    cover = float(np.mean([e.lower <= truth <= e.upper for e in ests]))
    bias_z = (est.mean() - truth) / (est.std(ddof=1) / math.sqrt(len(est)))
    print(f"{name}: mean {est.mean():.5f} truth {truth:.5f} sd {est.std():.5f} bias z {bias_z:+.2f} coverage {cover:.3f}")
    assert abs(bias_z) < 3
    assert lo <= cover <= hi


def test_pool_targets_match_exact_truth() -> None:
    s, y, ids, F, pooled = pool()
    a = s <= T
    p_prompt = filtered_target_weights(a, ids)
    assert p_prompt.sum() == pytest.approx(1.0)
    # Pool estimands vs. the exact scenario values (pool noise: ~sqrt(F/N_acc)).
    assert float(p_prompt @ y) == pytest.approx(F, abs=4 * math.sqrt(F / a.sum()) + 1e-3)
    assert float(y[a].mean()) == pytest.approx(pooled, abs=4 * math.sqrt(pooled / a.sum()))


@pytest.mark.parametrize("target", ["pooled", "per_prompt"])
def test_importance_sampling_unbiased_and_covers(target: str) -> None:
    s, y, ids, _, _ = pool()
    p = filtered_target_weights(s <= T, ids if target == "per_prompt" else None)
    truth = float(p @ y)
    ests = []
    for r in range(REPS):
        smp = importance_sample(s, T, 1200, target_weights=p, seed=r)
        ests.append(importance_estimate(y[smp.indices], smp))
    # Up to 0.99: the upper end is at least the Korn-Graubard bound, deliberately wider than the normal one.
    check(f"importance/{target}", ests, truth, hi=0.99)
    if target == "per_prompt":
        return
    # Concentrating near the threshold must beat labelling accepted items uniformly at the same budget.
    uni = [importance_estimate(y[m.indices], m) for m in
           (importance_sample(s, T, 1200, proposal="uniform", target_weights=p, seed=10_000 + r) for r in range(200))]
    assert np.std([e.estimate for e in ests]) < np.std([e.estimate for e in uni])


@pytest.mark.parametrize("allocation", ["neyman", "proportional"])
def test_stratified_unbiased_and_covers(allocation: str) -> None:
    s, y, _, _, _ = pool()
    truth = float(y[s <= T].mean())
    ests = []
    for r in range(REPS):
        smp = stratified_sample(s, T, [0.3, 0.5, 0.6, 0.65], 1200, allocation=allocation, seed=r)  # type: ignore[arg-type]
        ests.append(stratified_estimate(y[smp.indices], smp))
    check(f"stratified/{allocation}", ests, truth, hi=0.99)  # Korn-Graubard floor on the upper end, as above


@pytest.mark.parametrize("design", ["importance", "stratified"])
def test_upper_end_holds_with_tens_of_failures(design: str) -> None:
    """With 10-16 labelled failures the normal upper end alone held in only 92-93% of runs (measured),
    against the 97.5% a two-sided 95% interval promises on each side; with the Korn-Graubard floor it
    must hold in at least 95% (measured 0.963 and 0.981)."""
    s, y, _, _, _ = pool()
    truth = float(y[s <= T].mean())
    if design == "importance":
        p = filtered_target_weights(s <= T)
        ests = [importance_estimate(y[m.indices], m)
                for m in (importance_sample(s, T, 400, target_weights=p, seed=r) for r in range(REPS))]
    else:
        ests = [stratified_estimate(y[m.indices], m)
                for m in (stratified_sample(s, T, [0.3, 0.5, 0.6, 0.65], 400, seed=r) for r in range(REPS))]
    assert 8 <= np.mean([e.n_failures for e in ests]) <= 20  # the regime this test is about
    assert np.mean([truth <= e.upper for e in ests]) >= 0.95


def test_stratified_per_prompt_target() -> None:
    s, y, ids, _, _ = pool()
    p = filtered_target_weights(s <= T, ids)
    truth = float(p @ y)
    ests = [stratified_estimate(y[m.indices], m) for m in
            (stratified_sample(s, T, [0.3, 0.5, 0.6, 0.65], 1500, target_weights=p, seed=r) for r in range(REPS))]
    check("stratified/per_prompt", ests, truth, hi=0.99)


def test_zero_failures_give_conservative_upper_bound() -> None:
    rng = np.random.default_rng(0)
    s = rng.random(20_000) * 0.9
    y = np.zeros(20_000, dtype=bool)
    y[np.argsort(s)[-3:]] = True  # 3 failures just under the threshold: F_pool = 3 / N_acc
    smp = importance_sample(s, 0.9, 50, seed=1)
    lab = np.zeros(50, dtype=bool)  # pretend none was labelled a failure
    e = importance_estimate(lab, smp)
    assert e.estimate == 0 and e.n_failures == 0
    assert e.upper == pytest.approx(smp.max_weight * clopper_pearson(0, 50).upper)
    assert e.upper > 0
    st = stratified_sample(s, 0.9, [0.5, 0.8], 60, seed=1)
    es = stratified_estimate(np.zeros(len(st.indices), dtype=bool), st)
    assert es.upper > 0 and es.upper == es.conservative_upper


def test_bad_inputs_raise() -> None:
    s = np.linspace(0, 1, 100)
    with pytest.raises(ValueError, match="threshold"):
        importance_sample(s, 1.5, 10)
    with pytest.raises(ValueError, match="floor"):
        importance_sample(s, 0.5, 10, floor=0.0)
    with pytest.raises(ValueError, match="sum to 1"):
        importance_sample(s, 0.5, 10, target_weights=np.ones(100))
    with pytest.raises(ValueError, match="one entry per labelled draw"):
        importance_estimate([1, 0], importance_sample(s, 0.5, 10))
    with pytest.raises(ValueError, match="allocation"):
        stratified_sample(s, 0.5, [0.2], 10, allocation="optimal")  # type: ignore[arg-type]
