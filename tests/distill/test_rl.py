"""RL distillation with TRL: a learnable reward rises, the reference stays frozen, checkpoints, config checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nines.distill.kl import kl_to_reference
from nines.distill.policy import policy_generator
from nines.distill.rl import RLConfig, RLResult, train_rl
from nines.storyworld import StoryWorld

MAX_TOKENS = 24


class StartsWithThe:
    """Reward 1 for a completion whose first word is "The", else 0; records what TRL passed in."""

    __name__ = "starts_with_the"

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.completions = 0

    def __call__(self, prompts: Sequence[str], completions: Sequence[str], **kwargs: Any) -> list[float]:
        self.prompts += list(prompts)
        self.completions += len(completions)
        return [score(c) for c in completions]


def score(text: str) -> float:
    """1.0 when ``text`` (leading space ignored) starts with the word "The"."""
    words = text.lstrip(" ").split(" ")
    return 1.0 if words[0] == "The" else 0.0


def mean_reward(folder: Path, prompts: list[str]) -> float:
    """Mean reward of one seeded sample per prompt from the policy in ``folder``."""
    rows = policy_generator(folder, max_new_tokens=MAX_TOKENS).generate(prompts, n=1, seed=0)
    return float(np.mean([score(r[0].text) for r in rows]))


def weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of a saved policy."""
    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def eval_prompts(world: StoryWorld) -> list[str]:
    """Fresh prompts, apart from the training ones."""
    return world.sample_prompts(256, seed=5)


@pytest.fixture(scope="module")
def rloo(sft_policy_dir: Path, world: StoryWorld, eval_prompts: list[str],
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """12 RLOO steps of the SFT policy on the starts-with-"The" reward, with before/after measurements."""
    start_weights = weights(sft_policy_dir)
    before = mean_reward(sft_policy_dir, eval_prompts)
    reward = StartsWithThe()
    train_prompts = world.sample_prompts(200, seed=9)
    cfg = RLConfig(steps=12, prompts_per_step=8, num_generations=4, lr=2e-3, beta=0.05, checkpoint_every=4,
                   max_completion_tokens=MAX_TOKENS, seed=0)
    result = train_rl(sft_policy_dir, reward, train_prompts, cfg, tmp_path_factory.mktemp("rloo"), progress=False)
    return {"result": result, "before": before, "after": mean_reward(result.policy_dir, eval_prompts),
            "start_weights": start_weights, "reward": reward, "train_prompts": train_prompts}


def test_base_rate_of_the_reward_leaves_room_to_learn(rloo: dict[str, Any]) -> None:
    assert 0.05 < rloo["before"] < 0.6


def test_rloo_raises_the_mean_reward(rloo: dict[str, Any]) -> None:
    assert rloo["after"] > rloo["before"] + 0.2, (rloo["before"], rloo["after"])


def test_reward_saw_training_prompts_in_groups(rloo: dict[str, Any]) -> None:
    reward = rloo["reward"]
    assert reward.completions >= 12 * 8 * 4
    # TRL hands the reward the prompt texts it trained on (its dataset holds text, not Prompt objects).
    assert set(reward.prompts) <= {p.text for p in rloo["train_prompts"]}


def test_the_kl_reference_is_frozen(rloo: dict[str, Any], sft_policy_dir: Path) -> None:
    start, now = rloo["start_weights"], weights(sft_policy_dir)
    assert start.keys() == now.keys()
    assert all(torch.equal(start[k], now[k]) for k in start)
    trained = weights(rloo["result"].policy_dir)
    assert any(not torch.equal(start[k], trained[k]) for k in start)


def test_trained_policy_has_moved_away_from_the_start(rloo: dict[str, Any], sft_policy_dir: Path,
                                                      eval_prompts: list[str]) -> None:
    result: RLResult = rloo["result"]
    trained = policy_generator(result.policy_dir, max_new_tokens=MAX_TOKENS)
    start = policy_generator(sft_policy_dir)
    prompts = eval_prompts[:64]
    texts = [r[0].text for r in trained.generate(prompts, n=1, seed=3)]
    est = kl_to_reference(trained.model, start.model, trained.tokenizer, prompts, texts)
    assert est.kl > 2 * est.stderr > 0


def test_checkpoints_and_history(rloo: dict[str, Any]) -> None:
    result: RLResult = rloo["result"]
    steps = [s for s, _ in result.checkpoints]
    assert steps == [4, 8, 12]
    assert result.checkpoints[0][1].name == "step_4" and result.checkpoints[-1][1] == result.policy_dir
    for _, folder in result.checkpoints:
        assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    assert not torch.equal(weights(result.checkpoints[0][1])["model.embed_tokens.weight"],
                           weights(result.policy_dir)["model.embed_tokens.weight"])
    assert len(result.history) == 12 and [h["step"] for h in result.history] == list(range(1, 13))
    assert all({"kl", "reward"} <= h.keys() for h in result.history)
    assert all(0.0 <= h["reward"] <= 1.0 for h in result.history)
    assert result.history[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # the first step starts at the reference
    assert max(h["kl"] for h in result.history) > 0
    assert result.seconds > 0


def test_grpo_runs_and_saves_a_policy(sft_policy_dir: Path, world: StoryWorld, tmp_path: Path) -> None:
    cfg = RLConfig(algorithm="grpo", steps=2, prompts_per_step=4, num_generations=2, lr=1e-3, beta=0.1,
                   checkpoint_every=0, max_completion_tokens=12)
    result = train_rl(sft_policy_dir, StartsWithThe(), world.sample_prompts(20, seed=10), cfg, tmp_path,
                      progress=False)
    assert result.policy_dir == tmp_path / "policy" and (result.policy_dir / "model.safetensors").is_file()
    assert result.checkpoints == [(2, result.policy_dir)]
    assert len(result.history) == 2 and all("reward" in h for h in result.history)
    rows = policy_generator(result.policy_dir, max_new_tokens=8).generate(["Mara waited."], n=2, seed=0)
    assert len(rows[0]) == 2 and all(isinstance(c.text, str) for c in rows[0])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"algorithm": "ppo"}, r"rl.algorithm must be one of \('rloo', 'grpo'\), got 'ppo'"),
    ({"num_generations": 1}, "num_generations must be >= 2 .*baseline"),
    ({"steps": 0}, "rl.steps"),
    ({"beta": -0.1}, "rl.beta must be >= 0"),
    ({"lr": 0.0}, "rl.lr"),
    ({"temperature": 0.0}, "rl.temperature"),
    ({"checkpoint_every": -1}, "rl.checkpoint_every"),
])
def test_rl_config_rejects_bad_values(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RLConfig(**kwargs)


def test_train_rl_checks_its_inputs(sft_policy_dir: Path, tmp_path: Path) -> None:
    cfg = RLConfig(steps=1, prompts_per_step=4)
    with pytest.raises(FileNotFoundError, match="config.json"):
        train_rl(tmp_path, StartsWithThe(), ["a"] * 4, cfg, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="at least rl.prompts_per_step=4"):
        train_rl(sft_policy_dir, StartsWithThe(), ["a", "b"], cfg, tmp_path / "out", progress=False)
