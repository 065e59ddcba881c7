"""Fine-tune an encoder classifier: class weighting, clipping, LR schedule, early stopping, resume."""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from nines.classify.encoder import DEFAULT_BACKBONE, EncoderClassifier
from nines.classify.metrics import recall_at_rejection
from nines.data.record import Snippet


@dataclass
class TrainConfig:
    """How to fine-tune the injury classifier.

    Attributes:
        backbone: HF id or local folder of an encoder; ``all-MiniLM-L6-v2`` is embedded and offline.
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


def _lr_lambda(cfg: TrainConfig, total: int) -> Any:
    warm = int(cfg.warmup_fraction * total)

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / max(1, warm)
        if cfg.schedule == "constant":
            return 1.0
        frac = (step - warm) / max(1, total - warm)
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
        return max(0.0, 1.0 - frac)

    return f


def _batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    # The order depends only on (seed, epoch), so a resumed run sees exactly the batches it would have.
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Checkpointer:
    """Saves and restores everything a killed run needs to continue where it stopped."""

    def __init__(self, directory: Path | None, write: bool = True) -> None:
        self.dir = directory / "checkpoint" if directory else None
        self.write = write  # every process loads a checkpoint; only the main one writes or clears it

    def save(self, clf: EncoderClassifier, opt: Any, sched: Any, state: dict[str, Any]) -> None:
        if self.dir is None or not self.write:
            return
        tmp = self.dir.with_name("checkpoint.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        torch.save({"model": clf.model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "torch_rng": torch.get_rng_state()}, tmp / "state.pt")
        (tmp / "progress.json").write_text(json.dumps(state))
        # Rename is atomic: a kill mid-save leaves the previous checkpoint intact.
        if self.dir.exists():
            old = self.dir.with_name("checkpoint.old")
            self.dir.rename(old)
            tmp.rename(self.dir)
            for f in old.iterdir():
                f.unlink()
            old.rmdir()
        else:
            tmp.rename(self.dir)

    def load(self, clf: EncoderClassifier, opt: Any, sched: Any) -> dict[str, Any] | None:
        if self.dir is None or not (self.dir / "progress.json").is_file():
            return None
        blob = torch.load(self.dir / "state.pt", map_location=clf.device, weights_only=False)
        clf.model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["opt"])
        sched.load_state_dict(blob["sched"])
        torch.set_rng_state(blob["torch_rng"])
        return json.loads((self.dir / "progress.json").read_text())

    def clear(self) -> None:
        if self.write and self.dir is not None and self.dir.exists():
            for f in self.dir.iterdir():
                f.unlink()
            self.dir.rmdir()


def _evaluate(clf: EncoderClassifier, val: Sequence[Snippet], y: np.ndarray, budget: float,
              acc: Any = None) -> dict[str, float]:
    if acc is None:
        z = clf.logits([s.prompt for s in val], [s.completion for s in val])
    else:
        from nines.scale.accel import gather_logits

        z = gather_logits(acc, clf, [s.prompt for s in val], [s.completion for s in val])
    pos = float(y.mean())
    w = np.where(y > 0, 0.5 / max(pos, 1e-9), 0.5 / max(1 - pos, 1e-9))
    loss = float(np.mean(w * (np.logaddexp(0, z) - y * z)))
    return {"val_recall_at_budget": recall_at_rejection(z, y, budget), "val_loss": loss}


def _better(metric: dict[str, float], best: tuple[float, float] | None) -> bool:
    key = (metric["val_recall_at_budget"], -metric["val_loss"])
    return best is None or key > best


class _Trainer:
    """One training run: the model, optimiser, schedule, checkpointing and early-stopping state."""

    def __init__(self, cfg: TrainConfig, rows: list[Snippet], y: np.ndarray, val_rows: list[Snippet],
                 val_y: np.ndarray, out_dir: str | Path | None) -> None:
        self.cfg, self.rows, self.y, self.val_rows, self.val_y, self.out_dir = cfg, rows, y, val_rows, val_y, out_dir
        self.has_val = len(val_rows) > 0 and 0 < val_y.mean() < 1
        from nines.scale.accel import accelerator_if_distributed

        self.acc = accelerator_if_distributed()  # None unless launched with several processes
        self.main = self.acc is None or self.acc.is_main_process
        _seed_everything(cfg.seed)
        self.clf = EncoderClassifier.from_backbone(cfg.backbone, dropout=cfg.dropout, max_length=cfg.max_length,
                                                   device=str(self.acc.device) if self.acc else cfg.device)
        self.steps_per_epoch = math.ceil(len(rows) / cfg.batch_size)
        self.total = cfg.max_steps or max(1, int(round(cfg.epochs * self.steps_per_epoch)))
        pos_weight = cfg.pos_weight or float((len(y) - y.sum()) / y.sum())
        self.pos_weight = torch.tensor(pos_weight, device=self.clf.device)
        self.loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=self.pos_weight)
        if self.acc is not None:
            self.ddp = self.acc.prepare(self.clf.model)  # DDP: broadcasts rank 0's weights, all-reduces grads
            torch.manual_seed(cfg.seed + self.acc.process_index)  # independent dropout per process
        self.opt = torch.optim.AdamW(self.clf.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, _lr_lambda(cfg, self.total))
        self.ckpt = _Checkpointer(Path(out_dir) if out_dir and cfg.checkpoint_every > 0 else None, write=self.main)
        self.state: dict[str, Any] = {"step": 0, "history": [], "best": None, "best_step": None, "bad_evals": 0}
        self.best_weights: dict[str, torch.Tensor] | None = None

    def resume(self) -> int | None:
        """Load the last checkpoint if there is one; returns the step resumed from."""
        loaded = self.ckpt.load(self.clf, self.opt, self.sched)
        if not loaded:
            return None
        self.state = loaded
        self.best_weights = _restore_best(self.out_dir, self.state)
        return int(self.state["step"]) or None

    def step(self, step: int) -> dict[str, Any]:
        """One optimiser step on the batch the (seed, epoch) order assigns to ``step``."""
        cfg, clf = self.cfg, self.clf
        epoch, within = divmod(step, self.steps_per_epoch)
        idx = _batch_order(len(self.rows), cfg.batch_size, cfg.seed, epoch)[within]
        if self.acc is not None:
            from nines.scale.accel import backward_part

            loss_value = backward_part(self.acc, self.ddp, clf, [r.prompt for r in self.rows],
                                       [r.completion for r in self.rows], self.y, idx, self.pos_weight)
        else:
            batch = clf.encode([self.rows[i].prompt for i in idx], [self.rows[i].completion for i in idx])
            loss = self.loss_fn(clf.forward_logits(batch), torch.as_tensor(self.y[idx], device=clf.device))  # (B,)
            loss.backward()
            loss_value = float(loss.item())
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(clf.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return {"step": step + 1, "loss": loss_value, "lr": self.sched.get_last_lr()[0]}

    def maybe_evaluate(self, record: dict[str, Any]) -> bool:
        """Evaluate when due, keep the best weights; returns True when patience has run out."""
        step = record["step"]
        if not self.has_val or (step % self.cfg.eval_every and step != self.total):
            return False
        metric = _evaluate(self.clf, self.val_rows, self.val_y, self.cfg.rejection_budget, self.acc)
        record.update(metric)
        self.clf.model.train()
        st = self.state
        if _better(metric, tuple(st["best"]) if st["best"] else None):
            st["best"] = [metric["val_recall_at_budget"], -metric["val_loss"]]
            st["best_step"], st["bad_evals"] = step, 0
            self.best_weights = {k: v.detach().clone() for k, v in self.clf.model.state_dict().items()}
            _save_best(self.out_dir if self.main else None, self.best_weights)
            return False
        st["bad_evals"] += 1
        return self.cfg.patience > 0 and st["bad_evals"] >= self.cfg.patience

    def run(self, progress: bool) -> int:
        """Train until ``total`` steps or early stop; returns the number of steps done."""
        bar = _progress_bar(self.total, self.state["step"], progress)
        self.clf.model.train()
        step = self.state["step"]
        while step < self.total:
            record = self.step(step)
            step = record["step"]
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{record['loss']:.3f}")
            stop = self.maybe_evaluate(record)
            self.state["history"].append(record)
            self.state["step"] = step
            if self.cfg.checkpoint_every and step % self.cfg.checkpoint_every == 0 and step < self.total and not stop:
                self.ckpt.save(self.clf, self.opt, self.sched, self.state)
            if stop:
                break
        if bar is not None:
            bar.close()
        return step

    def finish(self) -> None:
        """Restore the best weights, drop checkpoints, record config and data fingerprint."""
        from nines.config import to_dict

        if self.best_weights is not None:
            self.clf.model.load_state_dict(self.best_weights)
        self.clf.model.eval()
        self.ckpt.clear()
        _clear_best(self.out_dir if self.main else None)
        self.clf.meta.train_config = to_dict(self.cfg)
        self.clf.meta.data_fingerprint = data_fingerprint(self.rows)


def train_classifier(
    train: Sequence[Snippet],
    val: Sequence[Snippet] = (),
    config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a classifier on labelled snippets (``unsure`` and unlabelled ones are skipped).

    With ``out_dir``, a checkpoint is written every ``checkpoint_every`` steps and, when ``resume``,
    a run killed midway continues from its last checkpoint with the same data order. With a
    validation set, the weights of the best evaluation (recall at the rejection budget, ties broken by
    loss) are restored at the end and training stops early after ``patience`` evaluations without gain.

    Raises:
        ValueError: when the data lack either label.
    """
    cfg = config or TrainConfig()
    t0 = time.time()
    rows, y = _decided(train)
    if len(rows) == 0 or y.min() == y.max():
        raise ValueError("training data needs both injurious and safe labelled snippets; "
                         f"got {int(y.sum())} injurious and {int(len(y) - y.sum())} safe")
    val_rows, val_y = _decided(val)
    trainer = _Trainer(cfg, rows, y, val_rows, val_y, out_dir)
    resumed_from = trainer.resume() if resume else None
    steps = trainer.run(progress)
    trainer.finish()
    st = trainer.state
    return TrainResult(trainer.clf, steps, st["best_step"], st["best"][0] if st["best"] else None,
                       st["history"], resumed_from, time.time() - t0, main_process=trainer.main)


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc="training", unit="step")


def _best_path(out_dir: str | Path | None) -> Path | None:
    return Path(out_dir) / "best_weights.pt" if out_dir else None


def _save_best(out_dir: str | Path | None, weights: dict[str, torch.Tensor]) -> None:
    p = _best_path(out_dir)
    if p is not None:
        p.parent.mkdir(parents=True, exist_ok=True)
        torch.save(weights, p.with_suffix(".tmp"))
        p.with_suffix(".tmp").replace(p)


def _restore_best(out_dir: str | Path | None, state: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    p = _best_path(out_dir)
    if p is None or not p.is_file() or state.get("best_step") is None:
        return None
    return torch.load(p, map_location="cpu")


def _clear_best(out_dir: str | Path | None) -> None:
    p = _best_path(out_dir)
    if p is not None and p.is_file():
        p.unlink()
