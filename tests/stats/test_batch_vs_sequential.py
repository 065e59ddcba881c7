"""Exact output laws of sequential vs batch-safest rejection sampling, checked by simulation."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from nines.filter import FilterConfig, filter_generate
from nines.generate.base import Completion, prompt_text
from nines.stats.batch_vs_sequential import (
    batch_safest_distribution,
    compare_policies,
    policy_difference_report,
    sequential_distribution,
)
from nines.storyworld import INJURIOUS_OUTCOMES, StoryWorld

PI = np.array([0.25, 0.2, 0.15, 0.1, 0.1, 0.1, 0.1])
S = np.array([0.30, 0.10, 0.30, 0.90, 0.05, np.nan, 0.60])  # ties at 0.30; NaN is always rejected
Y = np.array([1, 0, 0, 1, 0, 0, 1])
Q = np.array([1.0, 0.5, 0.9, 1.0, 0.45, 1.0, 0.8])
T = 0.5


class ToyGenerator:
    name = "toy"

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        rng = np.random.default_rng(seed)
        return [[Completion(f"c{j}") for j in rng.choice(len(PI), size=n, p=PI)] for _ in prompts]


class ToyClassifier:
    threshold = T

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([S[int(c[1:])] for c in completions])


def test_k1_is_sequential_and_large_k_is_safest() -> None:
    seq = sequential_distribution(PI, S, T)
    assert seq.sum() == pytest.approx(1)
    np.testing.assert_allclose(batch_safest_distribution(PI, S, T, 1), seq)
    big = batch_safest_distribution(PI, S, T, 200)
    assert big[4] == pytest.approx(1, abs=1e-6)  # the lowest accepted score wins
    for k in (2, 3, 8):
        d = batch_safest_distribution(PI, S, T, k)
        assert d.sum() == pytest.approx(1) and d[3] == d[5] == d[6] == 0
        # tied completions (score 0.30) keep their relative probabilities
        assert d[0] / d[2] == pytest.approx(PI[0] / PI[2])


@pytest.mark.parametrize("k", [2, 4])
def test_exact_law_matches_filter_generate_simulation(k: int) -> None:
    n = 20_000
    cfg = FilterConfig(strategy="batch_safest", batch_size=k, max_attempts=40 * k, seed=k)
    res = filter_generate(ToyGenerator(), ToyClassifier(), ["x"] * n, cfg, progress=False)
    counts = np.bincount([int(r.completion[1:]) for r in res if r.completion], minlength=len(PI))
    exact = batch_safest_distribution(PI, S, T, k)
    se = np.sqrt(exact * (1 - exact) / n)
    assert (np.abs(counts / n - exact) <= 4 * se + 1e-12).all(), (counts / n, exact)
    seq_cfg = FilterConfig(strategy="sequential", max_attempts=60, seed=k)
    res = filter_generate(ToyGenerator(), ToyClassifier(), ["x"] * n, seq_cfg, progress=False)
    counts = np.bincount([int(r.completion[1:]) for r in res if r.completion], minlength=len(PI))
    seq = sequential_distribution(PI, S, T)
    assert (np.abs(counts / n - seq) <= 4 * np.sqrt(seq * (1 - seq) / n) + 1e-12).all()


def test_compare_policies() -> None:
    c = compare_policies(PI, S, Y, Q, T, 4)
    seq = sequential_distribution(PI, S, T)
    assert c.failure_sequential == pytest.approx(seq @ Y)
    assert c.failure_batch < c.failure_sequential  # item 0 (score .30) fails, items 1, 4 are safer
    assert c.quality_batch < c.quality_sequential  # but the safest ones here are lower quality
    assert c.to_dict()["failure_difference"] == pytest.approx(c.failure_batch - c.failure_sequential)


def _u(*parts: str) -> float:
    return int.from_bytes(hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest(), "little") / 2**64


def storyworld_pools(n_prompts: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Enumerated completion pools of tense StoryWorld scenes with a synthetic, overlapping score."""
    world = StoryWorld(seed=0)
    prompts = [p for p in world.sample_prompts(400, seed=1) if world.injury_probability(p) > 0.05][:n_prompts]
    pools = []
    for p in prompts:
        rows = world.model().enumerate_scene(world.scene_of(p))
        probs = np.array([r[1] for r in rows])
        y = np.array([r[2] in INJURIOUS_OUTCOMES for r in rows], dtype=float)  # sentient victims only
        coherent = np.array([r[4] for r in rows])
        scores = np.array([(0.3 if yi else 0.05) + (0.0 if c else 0.1) + 0.4 * _u(prompt_text(p), r[0])
                           for yi, c, r in zip(y, coherent, rows)])
        pools.append((probs / probs.sum(), scores, y, np.where(coherent, 1.0, 0.45)))
    return pools


def test_policy_difference_report_on_storyworld() -> None:
    pools = storyworld_pools(25)
    rep = policy_difference_report(pools, threshold=0.5, k=4, classifier_name="the synthetic classifier")
    assert rep.n_prompts == 25
    assert rep.pooled.failure_batch < rep.pooled.failure_sequential
    assert rep.failure_significant
    assert "batch-safest (k=4) lowers the failure rate" in rep.sentence and "is significant" in rep.sentence
    same = policy_difference_report(pools, threshold=0.5, k=1)
    assert not same.failure_significant and "is not significant" in same.sentence


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        sequential_distribution([0.5, 0.6], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="never returns"):
        sequential_distribution([0.5, 0.5], [0.9, np.nan], 0.5)
    with pytest.raises(ValueError, match="batch size"):
        batch_safest_distribution(PI, S, T, 0)
    with pytest.raises(ValueError, match="one score per"):
        batch_safest_distribution(PI, S[:3], T, 2)
    with pytest.raises(ValueError, match="at least 2 prompts"):
        policy_difference_report([(PI, S, Y, Q)], T, 2)
