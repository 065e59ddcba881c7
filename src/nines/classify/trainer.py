"""The classifier's training loop: ``transformers.Trainer`` with a weighted loss and early stopping on recall.

:class:`ClassifierTrainer` adds to the stock ``Trainer`` only what the injury classifier needs:

* the loss is ``BCEWithLogitsLoss(pos_weight)`` on the head's single logit (class weighting);
* the batch order depends only on ``(seed, epoch)`` (:class:`EpochPermutation`), so a resumed run
  sees exactly the batches the uninterrupted one would have;
* evaluation is recall on injurious validation snippets at the rejection budget (ties broken by the
  class-balanced loss), scored by :meth:`EncoderClassifier.logits` on whole pairs; the best weights
  are kept and training stops after ``patience`` evaluations without gain.

Everything a resumed run needs lives in what ``Trainer`` already checkpoints: weights, optimiser,
schedule, RNG states and ``trainer_state.json``, whose ``log_history`` holds every evaluation (the
best step and the patience count are recomputed from it). The best weights, which the stock
checkpoint lacks, are saved beside it as ``best-STEP.pt``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from nines.classify.encoder import EncoderClassifier
from nines.classify.metrics import recall_at_rejection
from nines.data.record import Snippet

#: The early-stopping metric's key in ``log_history`` and :attr:`TrainResult.history`.
VAL_METRIC = "val_recall_at_budget"
TRAINER_STATE = "trainer_state.json"


class EpochPermutation(torch.utils.data.Sampler[int]):
    """Row indices in an order fixed by ``(seed, epoch)`` alone (not by any RNG state), for exact resumes."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Called by ``Trainer`` (through accelerate's data loader) before each epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())


class PairCollator:
    """Turns a list of row indices into the encoder's inputs plus float ``labels`` (1 = injurious)."""

    def __init__(self, clf: EncoderClassifier, rows: Sequence[Snippet]) -> None:
        self.clf, self.rows = clf, rows

    def __call__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        rows = [self.rows[i] for i in idx]
        batch = self.clf.encode([r.prompt for r in rows], [r.completion for r in rows])
        batch["labels"] = torch.tensor([float(bool(r.is_injurious)) for r in rows], device=self.clf.device)
        return batch


def val_metrics(clf: EncoderClassifier, val: Sequence[Snippet], y: np.ndarray, budget: float,
                acc: Any = None) -> dict[str, float]:
    """Recall at the rejection budget and the class-balanced BCE of ``clf`` on ``val``.

    With ``acc`` (an accelerator of several processes), each process scores a share and all get every logit.
    """
    prompts, completions = [s.prompt for s in val], [s.completion for s in val]
    if acc is None:
        z = clf.logits(prompts, completions)
    else:
        from nines.classify.accel import gather_logits

        z = gather_logits(acc, clf, prompts, completions)
    pos = float(y.mean())
    w = np.where(y > 0, 0.5 / max(pos, 1e-9), 0.5 / max(1 - pos, 1e-9))
    loss = float(np.mean(w * (np.logaddexp(0, z) - y * z)))
    return {VAL_METRIC: recall_at_rejection(z, y, budget), "val_loss": loss}


def best_evaluation(log_history: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first evaluation with the highest (recall at budget, -loss); ``None`` before any evaluation."""
    def key(h: dict[str, Any]) -> tuple[float, float]:
        return h[VAL_METRIC], -h["val_loss"]

    best = None
    for h in log_history:
        if VAL_METRIC in h and (best is None or key(h) > key(best)):  # strict: the earliest of equals wins
            best = h
    return best


def last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in ``folder`` (``trainer_state.json`` is written last), if any."""
    if not folder.is_dir():
        return None
    pattern = re.compile(rf"{PREFIX_CHECKPOINT_DIR}-(\d+)")
    found = [(int(m.group(1)), p) for p in folder.iterdir()
             if (m := pattern.fullmatch(p.name)) and (p / TRAINER_STATE).is_file()]
    return max(found)[1] if found else None


class ClassifierTrainer(Trainer):
    """``Trainer`` for an :class:`EncoderClassifier`: weighted BCE, recall-at-budget evaluation, best weights.

    Args:
        clf: the classifier whose ``model`` is trained in place.
        rows: decided training snippets.
        val_rows: decided validation snippets (may be empty: then no evaluation).
        pos_weight: loss weight of the injurious class.
        budget: rejection budget of the early-stopping metric.
        patience: evaluations without a better metric before stopping (0: never stop early).
        **kwargs: passed to ``Trainer`` (``args``, ``callbacks``).
    """

    # compute_loss returns a per-batch mean, so Trainer divides it over gradient-accumulation steps itself.
    loss_is_scaled_for_ga = False

    def __init__(self, clf: EncoderClassifier, rows: Sequence[Snippet], val_rows: Sequence[Snippet],
                 pos_weight: float, budget: float, patience: int, **kwargs: Any) -> None:
        self.clf, self.rows, self.val_rows = clf, rows, val_rows
        self.val_y = np.array([bool(s.is_injurious) for s in val_rows], dtype=np.float32)
        self.budget, self.patience = budget, patience
        self.pos_weight = torch.tensor(pos_weight, device=clf.device)
        self.best_weights: dict[str, torch.Tensor] | None = None
        super().__init__(model=clf.model, train_dataset=list(range(len(rows))),
                         eval_dataset=list(range(len(val_rows))) if len(val_rows) else None,
                         data_collator=PairCollator(clf, rows), **kwargs)

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler[int]:
        return EpochPermutation(len(self.rows), self.args.seed)

    def compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        """Class-weighted BCE of the head's logit (the model's own loss would be a regression)."""
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits[:, 0]  # (B, 1) -> (B,)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels,
                                                                    pos_weight=self.pos_weight)
        return (loss, outputs) if return_outputs else loss

    def evaluate(self, eval_dataset: Any = None, ignore_keys: Any = None,
                 metric_key_prefix: str = "eval") -> dict[str, float]:
        """Score the validation set, keep the best weights, and stop when patience has run out."""
        acc = self.accelerator if self.args.world_size > 1 else None
        metrics = val_metrics(self.clf, self.val_rows, self.val_y, self.budget, acc)
        self.log(dict(metrics))  # into state.log_history, which checkpoints carry
        evals = [h for h in self.state.log_history if VAL_METRIC in h]
        best = best_evaluation(evals) or evals[-1]
        if best is evals[-1]:
            self.best_weights = {k: v.detach().clone() for k, v in self.clf.model.state_dict().items()}
            self._save_best(self.state.global_step)
        elif self.patience and len(evals) - 1 - evals.index(best) >= self.patience:
            # The stock EarlyStoppingCallback on a (recall, -loss) pair; a finished run gets no checkpoint.
            self.control.should_training_stop = True
            self.control.should_save = False
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics=metrics)
        return metrics

    @property
    def output_dir(self) -> Path:
        """Where Trainer writes its checkpoints (and this class the best weights)."""
        return Path(str(self.args.output_dir))

    def _best_file(self, step: int) -> Path:
        return self.output_dir / f"best-{step}.pt"

    def _save_best(self, step: int) -> None:
        # Only with checkpoints: a resumed run needs the best weights its checkpoint's history points to.
        if self.args.save_strategy == "no" or not self.args.should_save:
            return
        path = self._best_file(step)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.best_weights, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)  # atomic: a kill mid-save leaves no half file

    def prune_best(self) -> None:
        """Delete best-weight files that no complete checkpoint points to (after a checkpoint is saved)."""
        best = best_evaluation(self.state.log_history)
        keep = self._best_file(best["step"]).name if best else None
        for p in self.output_dir.glob("best-*.pt"):
            if p.name != keep:
                p.unlink()

    def restore_best(self, checkpoint: Path) -> None:
        """Before resuming from ``checkpoint``: load the best weights its history points to."""
        from transformers import TrainerState

        best = best_evaluation(TrainerState.load_from_json(str(checkpoint / TRAINER_STATE)).log_history)
        if best is not None and self._best_file(best["step"]).is_file():
            self.best_weights = torch.load(self._best_file(best["step"]), map_location="cpu")


class CheckpointHousekeeping(TrainerCallback):
    """No checkpoint of a finished run (it would be deleted at once), and old best-weight files pruned."""

    def __init__(self, trainer: ClassifierTrainer) -> None:
        self.trainer = trainer

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step >= state.max_steps:
            control.should_save = False
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.is_world_process_zero:
            self.trainer.prune_best()
        return control


class ProgressBar(TrainerCallback):
    """One tqdm bar over the optimiser steps with the running loss (instead of Trainer's per-log prints)."""

    def __init__(self, desc: str = "training") -> None:
        self.desc = desc
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, unit="step")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
