"""Supervised fine-tuning of a policy on (prompt, completion) pairs, with the loss on the completion only.

Used twice in distillation: to make the starting policy (imitate the unfiltered generator) and for
the best-of-n / expert-iteration baseline (imitate the completions the filter accepted).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SFTConfig:
    """Settings of :func:`sft_train`.

    Attributes:
        steps: optimizer steps.
        batch_size: sequences per step.
        lr: peak AdamW learning rate (linear warm-up, cosine decay to 10%).
        warmup: warm-up steps.
        weight_decay: AdamW weight decay.
        eval_every: steps between validation losses (0: only at the end).
        seed: shuffling and initialisation seed.
    """

    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    eval_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("sft.steps and sft.batch_size must be >= 1")
        if not self.lr > 0:
            raise ValueError(f"sft.lr must be > 0 (e.g. 2e-3 from scratch, 5e-5 for a pretrained model), got {self.lr}")
        if self.warmup < 0 or self.eval_every < 0:
            raise ValueError("sft.warmup and sft.eval_every must be >= 0")


@dataclass
class SFTResult:
    """What :func:`sft_train` did.

    Attributes:
        steps: optimizer steps run.
        train_loss: mean completion-token loss per logged step, as ``(step, loss)``.
        val_loss: validation completion-token loss (nats per token) as ``(step, loss)``.
        seconds: wall time.
    """

    steps: int
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    val_loss: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class EncodedPairs:
    """Token ids of pairs: ``prompt[i] + completion[i]`` is sequence ``i`` (completion ends with EOS).

    Attributes:
        prompt: prompt token ids per pair.
        completion: completion token ids per pair, EOS last.
        tokenizer: the tokenizer that made them (:func:`encode_pairs` sets it; training needs its padding token).
    """

    prompt: list[list[int]]
    completion: list[list[int]]
    tokenizer: Any = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.prompt)


def encode_pairs(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str]) -> EncodedPairs:
    """Tokenise pairs the way the policy sees them: the prompt, then " " + completion + EOS."""
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
    if tokenizer.eos_token_id is None:
        raise ValueError("the policy's tokenizer has no eos token; set tokenizer.eos_token before training")
    if not prompts:
        return EncodedPairs([], [], tokenizer)
    p_ids = tokenizer(list(prompts))["input_ids"]
    c_ids = tokenizer([" " + c.lstrip(" ") for c in completions], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    return EncodedPairs(list(p_ids), [list(c) + [eos] for c in c_ids], tokenizer)


def collate(pairs: EncodedPairs, rows: Sequence[int], pad_id: int) -> dict[str, Any]:
    """Right-padded batch with labels on completion tokens only (-100 elsewhere).

    Returns tensors ``input_ids``, ``attention_mask``, ``labels``, each (B, T).
    """
    import torch

    seqs = [pairs.prompt[i] + pairs.completion[i] for i in rows]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    for b, i in enumerate(rows):
        s, n_p = seqs[b], len(pairs.prompt[i])
        ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
        labels[b, n_p : len(s)] = torch.tensor(pairs.completion[i])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def pair_logprobs(model: Any, pairs: EncodedPairs, pad_id: int, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the summed log-probability of its completion tokens (EOS included), and their count.

    Returns two arrays of shape ``(len(pairs),)``, computed by teacher forcing without gradients.
    """
    import torch

    logps, counts = np.empty(len(pairs)), np.empty(len(pairs), dtype=np.int64)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            batch = collate(pairs, range(start, min(start + batch_size, len(pairs))), pad_id)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            # position t predicts token t+1: logits (B, T-1, V) against labels (B, T-1)
            labels = batch["labels"][:, 1:]
            mask = labels != -100
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            tok_lp = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
            logps[start : start + len(labels)] = tok_lp.sum(-1).cpu().numpy()
            counts[start : start + len(labels)] = mask.sum(-1).cpu().numpy()
    model.train(was_training)
    return logps, counts


def completion_loss(model: Any, pairs: EncodedPairs, batch_size: int = 256) -> float:
    """Mean completion-token cross-entropy (nats per token) of ``model`` on ``pairs``."""
    logps, counts = pair_logprobs(model, pairs, _pad_id(model), batch_size)
    return float(-logps.sum() / max(int(counts.sum()), 1))


def _pad_id(model: Any) -> int:
    pad = getattr(model.config, "pad_token_id", None)
    eos = getattr(model.config, "eos_token_id", None)
    pad = pad if pad is not None else eos
    return int(pad[0] if isinstance(pad, list) else pad or 0)


TRL_HINT = "SFT needs the optional dependency trl: pip install 'nines[distill]' (or pip install trl)"


def sft_train(model: Any, train: EncodedPairs, config: SFTConfig, val: EncodedPairs | None = None,
              progress: bool = True, tokenizer: Any = None) -> SFTResult:
    """Fine-tune ``model`` in place on ``train`` (completion tokens only) with TRL's ``SFTTrainer``.

    Args:
        model: a causal LM (optionally with LoRA adapters), trained where it lies (CPU or one GPU).
        train: the pairs to imitate; the loss is the mean cross-entropy of their completion tokens.
        config: steps, batch size and optimiser settings.
        val: held-out pairs whose completion loss is recorded every ``eval_every`` steps and at the end.
        progress: show a progress bar.
        tokenizer: the pairs' tokenizer, when they were not made by :func:`encode_pairs`.

    Returns:
        The loss history; the model is left in eval mode.
    """
    import tempfile

    if len(train) == 0:
        raise ValueError("sft_train got no training pairs (did the filter accept nothing?)")
    tokenizer = tokenizer or train.tokenizer
    if tokenizer is None:
        raise ValueError("sft_train needs the pairs' tokenizer: build them with encode_pairs, "
                         "or pass tokenizer=")
    try:
        from nines.distill import sft_trl
    except ImportError as e:
        raise ImportError(TRL_HINT) from e
    from transformers import PrinterCallback

    from nines.classify.trainer import ProgressBar

    result, t0 = SFTResult(steps=0), time.time()
    callbacks: list[Any] = [sft_trl.LossRecorder(config, val, result)]
    if progress:
        callbacks.append(ProgressBar("sft"))
    # TRL wants an output folder, though nothing is saved there.
    with tempfile.TemporaryDirectory(prefix="nines-sft-") as tmp:
        args = sft_trl.sft_args(config, len(train), tmp, getattr(model, "device", None))
        data = sft_trl.completion_dataset(train)
        trainer = sft_trl.CompletionSFTTrainer(model=model, args=args, processing_class=tokenizer,
                                               train_dataset=data, callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)  # it prints every log; the progress bar shows the loss
        trainer.train()
    result.train_loss = [(int(h["step"]), float(h["loss"])) for h in trainer.state.log_history if "loss" in h]
    result.steps, result.seconds = trainer.state.global_step, time.time() - t0
    model.eval()
    return result
