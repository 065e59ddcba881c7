"""KL to the starting policy: teacher-forced log-probabilities, the log-ratio estimate, the filtered KL."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nines.distill.kl import KLEstimate, kl_to_reference, sequence_logprobs
from nines.distill.measure import filtered_kl
from nines.distill.policy import policy_generator
from nines.storyworld import StoryWorld


@pytest.fixture(scope="module")
def policy(sft_policy_dir: Path) -> tuple[Any, Any]:
    """The SFT policy's model and tokenizer."""
    gen = policy_generator(sft_policy_dir)
    return gen.model, gen.tokenizer


def hand_logprob(model: Any, tok: Any, prompt: str, completion: str) -> float:
    """log p(" " + completion + EOS | prompt), one sequence, one token at a time."""
    p_ids = tok(prompt)["input_ids"]
    c_ids = tok(" " + completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([p_ids + c_ids])).logits[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    return sum(float(logp[len(p_ids) - 1 + j, t]) for j, t in enumerate(c_ids))


def test_sequence_logprobs_match_a_hand_computation(policy: tuple[Any, Any], world: StoryWorld) -> None:
    model, tok = policy
    batch = world.sample(6, seed=31)
    completions = list(batch.completions)
    completions[1] = "The."  # a short one next to long ones: padding must not leak in
    completions[2] = " " + completions[2]  # a leading space is the same completion
    got = sequence_logprobs(model, tok, batch.prompts, completions)
    want = [hand_logprob(model, tok, p, c.lstrip(" ")) for p, c in zip(batch.prompts, completions)]
    assert got.shape == (6,)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.all(got < 0)
    np.testing.assert_allclose(sequence_logprobs(model, tok, batch.prompts, completions, batch_size=2), got,
                               rtol=1e-4, atol=1e-4)


def test_sequence_logprobs_leave_the_training_mode_alone(policy: tuple[Any, Any]) -> None:
    model, tok = policy
    model.train()
    try:
        sequence_logprobs(model, tok, ["Mara waited."], ["The troll left."])
        assert model.training
    finally:
        model.eval()


def test_kl_of_a_policy_to_itself_is_exactly_zero(policy: tuple[Any, Any], world: StoryWorld) -> None:
    model, tok = policy
    prompts = world.sample_prompts(16, seed=32)
    texts = [r[0].text for r in policy_generator(model=model, tokenizer=tok).generate(prompts, seed=1)]
    est = kl_to_reference(model, model, tok, prompts, texts)
    assert (est.kl, est.stderr, est.n, est.sqrt_kl) == (0.0, 0.0, 16, 0.0)


def test_kl_of_a_perturbed_copy_is_positive_on_its_own_samples(policy: tuple[Any, Any], world: StoryWorld) -> None:
    model, tok = policy
    other = copy.deepcopy(model)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.3 * torch.randn_like(p) * p.std())
    prompts = world.sample_prompts(64, seed=33)
    texts = [r[0].text for r in policy_generator(model=other, tokenizer=tok).generate(prompts, seed=2)]
    est = kl_to_reference(other, model, tok, prompts, texts)
    assert est.n == 64 and est.stderr > 0
    assert est.kl > 3 * est.stderr > 0
    assert est.sqrt_kl == pytest.approx(math.sqrt(est.kl))
    for p, q in zip(model.parameters(), other.parameters()):  # the reference was not touched
        assert not torch.equal(p, q)


def test_kl_estimate_sqrt_clips_negative_estimates() -> None:
    assert KLEstimate(-0.04, 0.1, 10).sqrt_kl == 0.0
    assert KLEstimate(0.25, 0.1, 10).sqrt_kl == pytest.approx(0.5)


@pytest.mark.parametrize("a", [0.3, 0.7, 0.95])
def test_filtered_kl_is_unbiased_for_geometric_attempts(a: float) -> None:
    """E[H_{K-1}] = -log a for K ~ Geometric(a): the harmonic-number identity."""
    attempts = np.random.default_rng(int(a * 100)).geometric(a, size=200_000)
    est = filtered_kl(attempts, max_attempts=200)
    assert est.n == 200_000 and est.stderr > 0
    assert abs(est.kl - (-math.log(a))) < 4 * est.stderr


def test_filtered_kl_under_estimates_when_refusals_truncate() -> None:
    a, m = 0.3, 3
    attempts = np.random.default_rng(1).geometric(a, size=200_000)
    est = filtered_kl(np.minimum(attempts, m), max_attempts=m)
    # truncated: sum_{j < m} (1 - a)^j / j, well under -log a
    truncated = sum((1 - a) ** j / j for j in range(1, m))
    assert abs(est.kl - truncated) < 4 * est.stderr
    assert est.kl < -math.log(a) - 0.2
    assert filtered_kl(attempts, max_attempts=m).kl == est.kl  # counts above the budget are clipped


def test_filtered_kl_of_first_try_acceptances_is_zero() -> None:
    est = filtered_kl(np.ones(50), max_attempts=16)
    assert (est.kl, est.stderr) == (0.0, 0.0)
    assert filtered_kl(np.array([1, 2, 3, 4]), max_attempts=16).kl == pytest.approx((0 + 1 + 1.5 + 11 / 6) / 4)
