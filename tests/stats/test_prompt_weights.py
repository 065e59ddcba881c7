"""Reweighting a prompt sample drawn from q to estimate a quantity under p."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nines.stats.prompt_weights import (
    effective_sample_size,
    reweighted_failure_rate,
    reweighted_mean,
    reweighted_winrate,
)
from nines.storyworld import StoryWorld
from nines.storyworld import scenes as sc
from nines.storyworld.aftermath import prompt_density_ratio, scene_density_ratio


def exact_rate(world: StoryWorld, distribution: str) -> float:
    """E_p[p_injurious(x)] summed over (tension, prior, sentient)."""
    d = sc.DISTRIBUTIONS[distribution]
    table = world.model().p_inj_table
    total = 0.0
    for t, pt in enumerate(d["tension"]):  # type: ignore[arg-type]
        ps = float(d["sentient"])  # type: ignore[arg-type]
        pr = float(d["prior"])  # type: ignore[arg-type]
        total += pt * ps * (pr * table[t, 1, 1] + (1 - pr) * table[t, 0, 1])
    return total


def test_density_ratio_matches_empirical_frequencies() -> None:
    world = StoryWorld(seed=0)
    b = world.sample(4000, seed=2, distribution="default")
    w = prompt_density_ratio(world, b.prompt_objects(), "random_excerpt", "default")
    # E_q[w] = 1 and E_q[w * p_inj] = E_p[p_inj]
    assert abs(w.mean() - 1) < 0.08
    est = reweighted_mean(b.p_injurious, w, np.ones_like(w))
    truth = exact_rate(world, "random_excerpt")
    assert abs(est.estimate - truth) < 4 * est.std_error
    direct = world.sample(200_000, seed=3, distribution="random_excerpt").p_injurious.mean()
    assert direct == pytest.approx(truth, rel=0.05)


def test_storyworld_coverage_over_500_replications() -> None:
    """Prompts from `default` (q) estimate the injury rate under `random_excerpt` (p).

    (The other direction is impossible: random_excerpt never draws climax scenes, q = 0 there.)
    """
    world = StoryWorld(seed=0)
    tb, model = world.tables, world.model()
    truth = exact_rate(world, "random_excerpt")
    rng = np.random.default_rng(7)
    reps, n, hits, low = 500, 1500, 0, 0
    scenes = sc.sample_scenes(tb, reps * n, rng, "default")
    ratio = scene_density_ratio(tb, scenes, "random_excerpt", "default")
    p_inj = model.p_injurious(scenes)
    for r in range(reps):
        sl = slice(r * n, (r + 1) * n)
        res = reweighted_mean(p_inj[sl], ratio[sl], np.ones(n))
        hits += res.lower <= truth <= res.upper
        low += res.low_ess
    assert 0.93 <= hits / reps <= 0.97, hits / reps
    assert low == 0


def test_toy_coverage_and_ess() -> None:
    """Discrete prompts with known p and q; values are Bernoulli with known means."""
    p = np.array([0.1, 0.2, 0.3, 0.4])
    q = np.array([0.4, 0.3, 0.2, 0.1])
    mu = np.array([0.05, 0.2, 0.5, 0.8])
    truth = float(p @ mu)
    rng = np.random.default_rng(0)
    hits, reps = 0, 1000
    for _ in range(reps):
        x = rng.choice(4, size=400, p=q)
        v = (rng.random(400) < mu[x]).astype(float)
        r = reweighted_mean(v, p[x], q[x])
        hits += r.lower <= truth <= r.upper
    assert 0.93 <= hits / reps <= 0.97
    assert effective_sample_size(np.ones(10)) == pytest.approx(10)
    assert effective_sample_size([1.0, 0, 0, 0]) == pytest.approx(1)


def test_equal_weights_reduce_to_plain_mean() -> None:
    v = np.array([0.0, 1.0, 1.0, 0.5])
    r = reweighted_mean(v, np.full(4, 0.3), np.full(4, 0.3), min_ess=1)
    assert r.estimate == pytest.approx(v.mean())
    assert r.std_error == pytest.approx(np.sqrt(((v - v.mean()) ** 2).sum()) / 4)
    assert r.ess == pytest.approx(4)


def test_low_ess_warns_and_flags() -> None:
    w = np.r_[100.0, np.ones(99)]
    with pytest.warns(UserWarning, match="effective sample size"):
        r = reweighted_mean(np.zeros(100), w, np.ones(100))
    assert r.low_ess
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not reweighted_mean(np.zeros(100), np.ones(100), np.ones(100)).low_ess


def test_wrappers() -> None:
    rng = np.random.default_rng(1)
    p, q = rng.random(300) + 0.5, rng.random(300) + 0.5
    wr = reweighted_winrate(rng.choice([0.0, 0.5, 1.0], 300), p, q)
    assert 0 <= wr.lower <= wr.estimate <= wr.upper <= 1
    fr = reweighted_failure_rate(np.zeros(300, dtype=bool), p, q)
    assert fr.estimate == 0 and fr.conservative_upper is not None
    # zero failures: the normal interval collapses, the Korn-Graubard bound does not (~3.7 / ESS)
    assert fr.upper == fr.conservative_upper == pytest.approx(1 - 0.025 ** (1 / fr.ess))
    few = reweighted_failure_rate(np.r_[np.ones(2), np.zeros(298)], p, q)
    assert few.conservative_upper is not None and few.upper >= few.estimate + 1.9 * few.std_error


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="q\\(x\\) = 0"):
        reweighted_mean([1.0, 0.0], [0.5, 0.5], [0.5, 0.0])
    with pytest.raises(ValueError, match="one value per prompt"):
        reweighted_mean([1.0], [0.5, 0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="failure labels"):
        reweighted_failure_rate([0.5], [1.0], [1.0])
    with pytest.raises(ValueError, match="0, 0.5 or 1"):
        reweighted_winrate([0.7], [1.0], [1.0])
    with pytest.raises(ValueError, match="unknown distribution"):
        scene_density_ratio(StoryWorld().tables, {}, "nope", "default")
