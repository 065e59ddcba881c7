"""The distillation's start policy: a tiny causal LM trained from scratch to imitate StoryWorld's generator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nines.distill.policy import TinyPolicyConfig
from nines.distill.sft import SFTConfig

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld


def train_start_policy(world: StoryWorld, families: list[str] | None, out: Path, *, sft_pairs: int, seed: int,
                       policy: TinyPolicyConfig, sft: SFTConfig, progress: bool = True) -> dict[str, Any]:
    """Train the tiny StoryWorld policy from scratch to imitate the unfiltered generator.

    Args:
        world: StoryWorld (the generator imitated, and the text the vocabulary is built from).
        families: the families the unfiltered generator writes (``None``: all).
        out: the policy's folder.
        sft_pairs: StoryWorld samples it imitates.
        seed: seed of the vocabulary, weights and samples.
        policy: the policy's shape.
        sft: the SFT run.
        progress: show a progress bar.

    Returns:
        Parameters, vocabulary size, steps, seconds, losses, and the world's own per-token entropy.
    """
    from nines.distill.policy import build_tiny_policy, count_parameters, save_policy
    from nines.distill.sft import encode_pairs, sft_train
    from nines.distill.tokenizer import build_word_tokenizer, storyworld_corpus

    # The vocabulary comes from every family, so the policy can write text it never saw in training.
    tokenizer = build_word_tokenizer(storyworld_corpus(world, n=max(sft_pairs, 100_000), seed=seed + 11))
    model = build_tiny_policy(tokenizer, policy, seed=seed)
    train = world.sample(sft_pairs, seed=seed + 12, families=families)
    val = world.sample(2000, seed=seed + 13, families=families)
    result = sft_train(model, encode_pairs(tokenizer, train.prompts, train.completions), sft,
                       val=encode_pairs(tokenizer, val.prompts, val.completions), progress=progress)
    save_policy(model, tokenizer, out)
    # The world's own per-token entropy bounds how low the validation loss can go.
    n_tokens = sum(len(tokenizer(" " + c)["input_ids"]) + 1 for c in val.completions)
    return {"parameters": count_parameters(model), "vocabulary": len(tokenizer), "steps": result.steps,
            "seconds": result.seconds, "val_loss": result.val_loss, "train_loss": result.train_loss,
            "world_path_entropy_per_token": float(-val.logprob.sum() / n_tokens)}
