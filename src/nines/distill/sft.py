"""Supervised fine-tuning of a policy on (prompt, completion) pairs, with the loss on the completion only.

Used twice in distillation: to make the starting policy (imitate the unfiltered generator) and for
the best-of-n / expert-iteration baseline (imitate the completions the filter accepted).
"""

from __future__ import annotations

import math
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
    """Token ids of pairs: ``prompt[i] + completion[i]`` is sequence ``i`` (completion ends with EOS)."""

    prompt: list[list[int]]
    completion: list[list[int]]

    def __len__(self) -> int:
        return len(self.prompt)


def encode_pairs(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str]) -> EncodedPairs:
    """Tokenise pairs the way the policy sees them: the prompt, then " " + completion + EOS."""
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
    if tokenizer.eos_token_id is None:
        raise ValueError("the policy's tokenizer has no eos token; set tokenizer.eos_token before training")
    if not prompts:
        return EncodedPairs([], [])
    p_ids = tokenizer(list(prompts))["input_ids"]
    c_ids = tokenizer([" " + c.lstrip(" ") for c in completions], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    return EncodedPairs(list(p_ids), [list(c) + [eos] for c in c_ids])


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


def sft_train(model: Any, train: EncodedPairs, config: SFTConfig, val: EncodedPairs | None = None,
              progress: bool = True) -> SFTResult:
    """Fine-tune ``model`` in place on ``train`` (completion tokens only); returns the loss history."""
    import torch
    from tqdm.auto import tqdm

    if len(train) == 0:
        raise ValueError("sft_train got no training pairs (did the filter accept nothing?)")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, config))
    pad = _pad_id(model)
    result = SFTResult(steps=0)
    t0, order, pos, running = time.time(), rng.permutation(len(train)), 0, []
    model.train()
    bar = tqdm(range(config.steps), desc="sft", unit="step", disable=not progress)
    for step in bar:
        if pos + config.batch_size > len(order):
            order, pos = rng.permutation(len(train)), 0
        rows = order[pos : pos + config.batch_size].tolist()
        pos += config.batch_size
        loss = model(**collate(train, rows, pad)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == config.steps:
            result.train_loss.append((step + 1, float(np.mean(running))))
            bar.set_postfix(loss=f"{np.mean(running):.3f}")
            running = []
        if val is not None and ((config.eval_every and (step + 1) % config.eval_every == 0) or step + 1 == config.steps):
            result.val_loss.append((step + 1, completion_loss(model, val)))
    result.steps, result.seconds = config.steps, time.time() - t0
    model.eval()
    return result


def _lr_factor(step: int, config: SFTConfig) -> float:
    if step < config.warmup:
        return (step + 1) / config.warmup
    frac = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
