"""Rejection sampling in fixed shards of prompts, so one process and many give the same output.

A generator's output for a prompt depends on everything in the same ``generate`` call (StoryWorld
draws one RNG stream for the whole batch; the HF backend pads and seeds per internal batch). So
rejection sampling can only be split across workers without changing its output if the split is
fixed in advance: prompts ``[k * size, (k + 1) * size)`` form shard ``k``, and shard ``k`` is
filtered on its own with the seed :func:`shard_seed` gives it. The single-process path
(:func:`filter_in_shards`) and the Ray path (:mod:`nines.scale.ray_batch`) both call
:func:`filter_shard`, so for a deterministic generator they return the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from nines.classify.base import Classifier
from nines.filter import FilterConfig, FilterResult, filter_generate
from nines.generate.base import Generator, PromptLike

#: Default prompts per shard: large enough that a ``nines filter`` run of up to this many prompts
#: is exactly the unsharded filter (shard 0 keeps the configured seed, see :func:`shard_seed`).
DEFAULT_SHARD_SIZE = 256

# A fixed spawn-key tag keeps shard seeds apart from the round seeds derived from the same base seed.
_SHARD_TAG = 0x5A4D


def shard_seed(seed: int | None, shard: int) -> int | None:
    """The filter seed of shard ``shard``: the configured seed itself for shard 0, derived otherwise.

    Shard 0 keeps ``seed`` so that runs of up to one shard are exactly what they were before
    sharding existed; later shards get well-mixed seeds that depend only on ``(seed, shard)``,
    never on how many shards or workers there are. ``None`` (non-deterministic) stays ``None``.
    """
    if seed is None or shard == 0:
        return seed
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(_SHARD_TAG, shard))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def shard_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of every shard of ``n`` prompts, ``size`` per shard (the last may be short)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"shard size must be an integer >= 1 (prompts per shard), got {size!r}")
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def filter_shard(generator: Generator, classifier: Classifier, prompts: Sequence[PromptLike], config: FilterConfig,
                 shard: int) -> list[FilterResult]:
    """Rejection-sample one shard: :func:`filter_generate` with the shard's seed, no progress bar."""
    cfg = replace(config, seed=shard_seed(config.seed, shard))
    return filter_generate(generator, classifier, list(prompts), cfg, progress=False)


def filter_in_shards(generator: Generator, classifier: Classifier, prompts: Sequence[PromptLike],
                     config: FilterConfig | None = None, shard_size: int = DEFAULT_SHARD_SIZE,
                     progress: bool = False) -> list[FilterResult]:
    """Rejection-sample ``prompts`` shard by shard in this process (the reference for the Ray path).

    Args:
        generator: samples completions.
        classifier: judges them.
        prompts: the prompts, in order.
        config: filter settings; ``config.seed`` seeds shard 0 and, through :func:`shard_seed`, the rest.
        shard_size: prompts per shard.
        progress: show a progress bar over shards.

    Returns:
        One :class:`~nines.filter.FilterResult` per prompt, in prompt order.
    """
    cfg = config if config is not None else FilterConfig()
    bounds = shard_bounds(len(prompts), shard_size)
    it: Any = enumerate(bounds)
    if progress and len(bounds) > 1:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(bounds), desc="filtering", unit="shard", leave=False)
    out: list[FilterResult] = []
    for k, (start, stop) in it:
        out.extend(filter_shard(generator, classifier, prompts[start:stop], cfg, k))
    return out


def result_row(r: FilterResult) -> dict[str, Any]:
    """The JSONL row ``nines filter`` writes for one result (the same for every execution path)."""
    return {"prompt": r.prompt, "prompt_id": r.prompt_id, "completion": r.completion, "accepted": r.accepted, "attempts": r.attempts,
            "score": r.score, "scores": r.scores, "rule": r.rule, "threshold_used": r.threshold_used,
            "metadata": r.completion_meta}
