"""A real pretrained causal LM (stories260K from ../shared, converted to ``transformers``) as the policy, with LoRA.

Checks the path a user takes with their own model: RL and best-of-n on a folder that is not the
tiny StoryWorld policy, training LoRA adapters only, and saving a merged plain causal LM.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nines.distill.bestofn import BestOfNConfig, best_of_n_distill
from nines.distill.policy import LoraConfig
from nines.distill.rl import RLConfig, train_rl
from nines.distill.sft import SFTConfig

PROMPTS = ["Once upon a time, there was a little girl named Lily.", "One day, a big dog went to the park.",
           "Tom had a red ball.", "The sun was hot and the bird was happy."] * 4
LORA = LoraConfig(enabled=True, r=4, alpha=8, dropout=0.0, target_modules=("q_proj", "v_proj"))


@pytest.fixture(scope="module")
def stories_dir(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nines.generate.llama2c import convert_llama2c

    src = shared_dir / "models" / "stories260K"
    return convert_llama2c(src / "stories260K.bin", src / "tok512.bin", tmp_path_factory.mktemp("s260k"))


def changed(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> set[str]:
    """Names of tensors that differ between two saved state dicts (same keys required)."""
    assert a.keys() == b.keys()
    return {k for k in a if not torch.equal(a[k], b[k])}


def only_adapted(names: set[str]) -> bool:
    return bool(names) and all(("q_proj" in n or "v_proj" in n) for n in names)


class ShortIsGood:
    """Reward: fewer words is better (varies within every group, so RLOO gets a signal)."""

    __name__ = "short_is_good"

    def __call__(self, prompts: Sequence[str], completions: Sequence[str], **kw: Any) -> list[float]:
        return [-float(len(c.split())) for c in completions]


def test_rl_with_lora_on_a_pretrained_model_trains_only_the_adapters(stories_dir: Path, tmp_path: Path) -> None:
    cfg = RLConfig(steps=2, lr=5e-3, beta=0.05, prompts_per_step=4, num_generations=2, max_completion_tokens=16,
                   checkpoint_every=0, lora=LORA)
    result = train_rl(stories_dir, ShortIsGood(), PROMPTS, cfg, tmp_path, progress=False)
    assert not (result.policy_dir / "adapter_config.json").exists()  # merged: a plain causal LM folder
    names = changed(load_file(str(stories_dir / "model.safetensors")), load_file(str(result.policy_dir / "model.safetensors")))
    assert only_adapted(names), sorted(names)


class AcceptAll:
    """A classifier that accepts every completion (score 0 < threshold)."""

    threshold = 0.5

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.zeros(len(prompts))


def test_best_of_n_with_lora_on_a_pretrained_model(stories_dir: Path, tmp_path: Path) -> None:
    cfg = BestOfNConfig(n_prompts=len(PROMPTS), max_attempts=2, lora=LORA,
                        sft=SFTConfig(steps=3, batch_size=4, lr=5e-3, warmup=0, eval_every=0))
    res = best_of_n_distill(stories_dir, AcceptAll(), PROMPTS, cfg, tmp_path / "bon", progress=False)
    assert res.accepted == len(PROMPTS) and res.refused == 0 and res.generator_calls == len(PROMPTS)
    names = changed(load_file(str(stories_dir / "model.safetensors")), load_file(str(res.policy_dir / "model.safetensors")))
    assert only_adapted(names), sorted(names)
