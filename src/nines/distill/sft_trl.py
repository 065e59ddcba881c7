"""The SFT loop on TRL: :class:`CompletionSFTTrainer`, its arguments and a loss recorder (imports ``trl``).

:func:`nines.distill.sft.sft_train` imports this module only when it trains, so the rest of
``nines.distill.sft`` (encoding, log-probabilities) works without the optional dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import transformers
import trl
from datasets import Dataset
from transformers import TrainerCallback

if TYPE_CHECKING:
    from nines.distill.sft import EncodedPairs, SFTConfig, SFTResult


def completion_dataset(pairs: EncodedPairs) -> Dataset:
    """Pairs in TRL's prepared form: ``input_ids``, and ``labels`` -100 on the prompt (completion-only)."""
    return Dataset.from_dict({
        "input_ids": [p + c for p, c in zip(pairs.prompt, pairs.completion)],
        "labels": [[-100] * len(p) + c for p, c in zip(pairs.prompt, pairs.completion)],
    })


def sft_args(config: SFTConfig, n_pairs: int, output_dir: str, device: Any) -> trl.SFTConfig:
    """:class:`~nines.distill.sft.SFTConfig` as TRL's config (AdamW, warm-up then cosine to 10%, clip 1)."""
    return trl.SFTConfig(
        # fewer pairs than a batch: every step takes them all (as the hand-written loop did)
        output_dir=output_dir, max_steps=config.steps,
        per_device_train_batch_size=min(config.batch_size, n_pairs),
        learning_rate=config.lr, weight_decay=config.weight_decay, adam_beta2=0.95, max_grad_norm=1.0,
        warmup_steps=config.warmup, lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": 0.1},
        seed=config.seed, dataloader_drop_last=True,  # every step sees batch_size sequences
        # The pairs arrive tokenised with their labels, and callers pass pairs that fit the policy.
        dataset_kwargs={"skip_prepare_dataset": True}, max_length=None,
        logging_steps=50, save_strategy="no", eval_strategy="no", report_to="none", disable_tqdm=True,
        # TRL's defaults are for large models on accelerators; these train in float32, as they generate
        bf16=False, activation_checkpointing=False, use_cpu=getattr(device, "type", "cpu") == "cpu",
    )


class CompletionSFTTrainer(trl.SFTTrainer):
    """``SFTTrainer`` with the model's own loss: mean cross-entropy over the batch's completion tokens.

    TRL's default loss runs a chunked, fused LM head built to save memory on large vocabularies; on
    the small policies distillation trains on CPU it doubled the time per step (measured: 300 steps
    of a 64-wide policy, 84 s of CPU against 45 s) for the same losses to four decimals.
    """

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        # no KV cache in training; labels -100 on prompt and padding, so only completion tokens count
        return transformers.Trainer.compute_loss(self, model, {**inputs, "use_cache": False}, return_outputs,
                                                 num_items_in_batch)


class LossRecorder(TrainerCallback):
    """Validation loss every ``eval_every`` steps and at the end into ``result``; a train loss at the end."""

    def __init__(self, config: SFTConfig, val: EncodedPairs | None, result: SFTResult) -> None:
        self.config, self.val, self.result = config, val, result

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> Any:
        from nines.distill.sft import completion_loss

        step, last = state.global_step, state.global_step == state.max_steps
        if last:
            control.should_log = True  # the running train loss of the last steps, as SFTResult promises
        if self.val is not None and ((self.config.eval_every and step % self.config.eval_every == 0) or last):
            self.result.val_loss.append((step, completion_loss(model, self.val)))
        return control
