"""Shared fixtures for the distillation tests: one thread, a StoryWorld tokenizer and a tiny SFT policy.

The machine running the tests is small and often busy; PyTorch's default of one thread per core
makes these tiny models tens of times slower under contention, so the package runs on one thread
(restored afterwards for the rest of the suite).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from nines.distill.policy import TinyPolicyConfig, build_tiny_policy, save_policy
from nines.distill.sft import SFTConfig, encode_pairs, sft_train
from nines.distill.tokenizer import build_word_tokenizer, storyworld_corpus
from nines.storyworld import StoryWorld

#: The smallest policy shape used throughout (about 45k parameters on StoryWorld's vocabulary).
TINY = TinyPolicyConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64)


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run the package on one PyTorch thread, then restore the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="package")
def world() -> StoryWorld:
    """A default StoryWorld shared by the package (its memo of the pairs it wrote speeds up the oracle)."""
    return StoryWorld()


@pytest.fixture(scope="package")
def word_tok(world: StoryWorld) -> Any:
    """Word-level tokenizer built from 3000 StoryWorld samples."""
    return build_word_tokenizer(storyworld_corpus(world, n=3000))


@pytest.fixture(scope="package")
def sft_policy_dir(tmp_path_factory: pytest.TempPathFactory, world: StoryWorld, word_tok: Any) -> Path:
    """A tiny policy fine-tuned 80 steps on 2000 StoryWorld pairs, saved with ``save_policy``.

    It writes StoryWorld-ish text: about a third of its completions start with "The".
    """
    model = build_tiny_policy(word_tok, TINY, seed=0)
    train = world.sample(2000, seed=1)
    sft_train(model, encode_pairs(word_tok, train.prompts, train.completions),
              SFTConfig(steps=80, batch_size=32, lr=1e-2, warmup=5, eval_every=0), progress=False)
    return save_policy(model, word_tok, tmp_path_factory.mktemp("sft_policy"))
