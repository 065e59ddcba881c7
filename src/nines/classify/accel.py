"""Data-parallel classifier training under ``accelerate launch`` (or ``torchrun``).

``train_classifier`` uses this only when started with more than one process (``WORLD_SIZE > 1``);
a single process trains exactly as before. With ``N`` processes every optimiser step still
takes the same global batch (the one the ``(seed, epoch)`` order gives ``nines train``), and
process ``r`` computes the loss of rows ``r, r + N, ...`` of it. Each process's loss is its *sum*
over its rows times ``N / B`` (``B`` the global batch size), so that the mean DDP takes over the
processes' gradients is exactly the gradient of the global batch's mean loss: ``N`` processes
follow the same trajectory as one, up to floating-point summation order and dropout draws.
Validation is split the same way and the logits gathered, so every process sees the same
metrics and takes the same early-stopping decision; only the main process writes files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def launched_world_size() -> int:
    """Processes in this launch (``WORLD_SIZE`` as set by ``accelerate launch`` / ``torchrun``; 1 otherwise)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def is_main_process() -> bool:
    """True in the process that writes files (rank 0, or the only process)."""
    return os.environ.get("RANK", "0") == "0"


def accelerator_if_distributed() -> Any | None:
    """An ``accelerate.Accelerator`` when launched with more than one process, else ``None``."""
    if launched_world_size() <= 1:
        return None
    from accelerate import Accelerator

    return Accelerator()


def local_part(idx: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This process's rows of a global batch: every ``world``-th, starting at ``rank``."""
    return idx[rank::world]


def shard_loss(logits: torch.Tensor, y: torch.Tensor, pos_weight: torch.Tensor, n_global: int,
               world: int) -> torch.Tensor:
    """This process's share of the global mean BCE: its sum times ``world / n_global``.

    Averaged over processes (what DDP does to gradients) this gives the gradient of
    ``BCEWithLogitsLoss(pos_weight)`` over the whole global batch, whatever the split.
    """
    total = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight,
                                                                 reduction="sum")
    return total * (world / n_global)


def backward_part(acc: Any, ddp: Any, clf: Any, prompts: Sequence[str], completions: Sequence[str],
                  y: np.ndarray, idx: np.ndarray, pos_weight: torch.Tensor) -> float:
    """Forward and backward of this process's part of global batch ``idx``; returns the global mean loss."""
    part = local_part(idx, acc.process_index, acc.num_processes)
    weight = 1.0
    if len(part) == 0:  # a last global batch smaller than the world: join the all-reduce with zero weight
        part, weight = idx[:1], 0.0
    batch = clf.encode([prompts[i] for i in part], [completions[i] for i in part])
    logits = ddp(**batch).logits[:, 0]  # through the DDP wrapper, so gradients are all-reduced
    target = torch.as_tensor(y[part], device=logits.device)
    loss = shard_loss(logits, target, pos_weight, len(idx), acc.num_processes) * weight
    acc.backward(loss)
    return float(acc.reduce(loss.detach(), reduction="mean").item())


def gather_logits(acc: Any, clf: Any, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
    """Logits of every pair, each process scoring every ``num_processes``-th one; the same array everywhere."""
    from accelerate.utils import gather_object

    n = len(prompts)
    mine = list(range(acc.process_index, n, acc.num_processes))
    z = clf.logits([prompts[i] for i in mine], [completions[i] for i in mine])
    out = np.empty(n, dtype=np.float64)
    for i, v in gather_object([(i, float(v)) for i, v in zip(mine, z)]):
        out[i] = v
    return out
