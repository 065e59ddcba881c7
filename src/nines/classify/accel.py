"""Helpers for data-parallel classifier training under ``accelerate launch`` (or ``torchrun``).

``transformers.Trainer`` (:mod:`nines.classify.trainer`) does the distributed training itself: each
global batch is split evenly over the processes (``split_batches``) and DDP averages the gradients.
These helpers say how many processes there are and which one writes files, and gather validation
logits so that every process sees the same metrics and takes the same early-stopping decision.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np


def launched_world_size() -> int:
    """Processes in this launch (``WORLD_SIZE`` as set by ``accelerate launch`` / ``torchrun``; 1 otherwise)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def is_main_process() -> bool:
    """True in the process that writes files (rank 0, or the only process)."""
    return os.environ.get("RANK", "0") == "0"


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
