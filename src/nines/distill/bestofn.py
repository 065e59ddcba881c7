"""Best-of-n / expert iteration: fine-tune the policy on completions the filter accepted.

The cheap way to distil a filter: run rejection sampling on many prompts, keep what it returns,
and imitate it. The fine-tuned policy approaches the filtered distribution as far as supervised
learning generalises, with no reward model in the loop at training time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nines.classify.base import Classifier
from nines.distill.policy import LoraConfig, add_lora, policy_generator, save_policy
from nines.distill.sft import SFTConfig, encode_pairs, sft_train
from nines.generate.base import PromptLike


@dataclass
class BestOfNConfig:
    """Settings of :func:`best_of_n_distill`.

    Attributes:
        n_prompts: prompts run through the filter to make the fine-tuning set.
        max_attempts: rejection-sampling budget per prompt (refused prompts are skipped).
        sft: the fine-tuning run (starts from the starting policy's weights).
        lora: fine-tune LoRA adapters instead of every weight.
    """

    n_prompts: int = 20000
    max_attempts: int = 16
    sft: SFTConfig = field(default_factory=lambda: SFTConfig(steps=600, lr=3e-4, warmup=30, eval_every=0))
    lora: LoraConfig = field(default_factory=LoraConfig)

    def __post_init__(self) -> None:
        if self.n_prompts < 1 or self.max_attempts < 1:
            raise ValueError("best_of_n.n_prompts and best_of_n.max_attempts must be >= 1")


@dataclass
class BestOfNResult:
    """The accepted set and the fine-tuned policy.

    Attributes:
        policy_dir: the fine-tuned policy.
        accepted: accepted (prompt, completion) pairs it was trained on.
        refused: prompts the filter refused.
        generator_calls: samples drawn to build the set.
        train_loss: SFT loss history ``(step, loss)``.
        seconds: wall time (filtering and fine-tuning).
    """

    policy_dir: Path
    accepted: int
    refused: int
    generator_calls: int
    train_loss: list[tuple[int, float]]
    seconds: float


def best_of_n_distill(start_policy: str | Path, classifier: Classifier, prompts: Sequence[PromptLike], cfg: BestOfNConfig,
                      out_dir: str | Path, seed: int = 0, progress: bool = True) -> BestOfNResult:
    """Filter the starting policy's samples, then fine-tune a copy of it on what was accepted."""
    from nines.distill.policy import load_policy
    from nines.filter import FilterConfig, filter_generate

    t0 = time.time()
    model, tokenizer = load_policy(str(start_policy))
    gen = policy_generator(model=model, tokenizer=tokenizer, name="start")
    fcfg = FilterConfig(strategy="sequential", max_attempts=cfg.max_attempts, fallback="refuse", seed=seed)
    results = filter_generate(gen, classifier, list(prompts), fcfg, progress=progress)
    kept = [r for r in results if r.completion is not None]
    if not kept:
        raise ValueError("the filter accepted no completion; raise best_of_n.max_attempts or check the classifier")
    pairs = encode_pairs(tokenizer, [r.prompt for r in kept], [str(r.completion) for r in kept])
    if cfg.lora.enabled:
        model = add_lora(model, cfg.lora)
    model.train()
    hist = sft_train(model, pairs, cfg.sft, progress=progress)
    out = save_policy(model, tokenizer, Path(out_dir))
    return BestOfNResult(out, len(kept), len(results) - len(kept), sum(r.attempts for r in results),
                         hist.train_loss, time.time() - t0)
