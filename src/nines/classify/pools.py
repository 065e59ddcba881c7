"""Clean prompt pools: where the rejection budget is measured.

The rejection budget ("reject at most 5% of first samples") only means something on the text the
filter will see. A **pool** is a set of (prompt, completion) first samples from one source: the
StoryWorld clean distribution, a user's JSONL of pairs, a JSONL of prompts continued by a
generator, or the real-prose corpus's safe calibration rows. Each pool carries its own budget, and the
threshold is the smallest one that keeps *every* pool within its budget, so no source is over its
allowance; the rejection rate on each pool is reported beside it.

Pool specs (``calibrate.pools`` in config, ``--pool`` on the CLI) are ``SOURCE[@BUDGET]``:

- ``prose``: the safe rows of the real-prose corpus's calibration batches (built in, offline). They
  are held out of training (``split == "val"``, :data:`nines.data.prose.VAL_SHARE` of the batches),
  so the pool's rejection rate is an honest false-flag rate on real prose; a pool of training rows
  would almost never bind, since the classifier was fitted on them;
- ``PATH.jsonl``: rows with ``prompt`` and ``completion`` (any other fields are ignored; a label
  column is not needed, these are meant to be unlabelled first samples);
- ``PATH.jsonl`` rows with only ``prompt`` need a generator (``--pool-generator SPEC``), which
  writes one first sample per prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nines.classify.metrics import threshold_at_rejection


@dataclass
class CleanPool:
    """First samples from one source, and the share of them the filter may reject.

    Attributes:
        name: how the pool is reported (``storyworld``, ``prose``, a file name).
        prompts: the prompts.
        completions: one first sample per prompt.
        budget: the pool's rejection budget; ``None`` means the calibration config's.
    """

    name: str
    prompts: list[str]
    completions: list[str]
    budget: float | None = None

    def __post_init__(self) -> None:
        if len(self.prompts) != len(self.completions):
            raise ValueError(f"pool {self.name!r}: {len(self.prompts)} prompts but {len(self.completions)} completions")
        if not self.prompts:
            raise ValueError(f"pool {self.name!r} is empty; give it at least one (prompt, completion) pair")
        if self.budget is not None and not 0 < self.budget < 1:
            raise ValueError(f"pool {self.name!r}: budget must be in (0, 1), e.g. @0.05, got {self.budget}")


@dataclass
class PoolResult:
    """A pool at the chosen threshold."""

    name: str
    n: int
    budget: float
    threshold_alone: float  # the threshold this pool's budget alone would give
    rejection_rate: float  # at the chosen threshold

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_pool_spec(spec: str) -> tuple[str, float | None]:
    """``"prose@0.2"`` -> ``("prose", 0.2)``; ``"pool.jsonl"`` -> ``("pool.jsonl", None)``."""
    source, sep, budget = spec.rpartition("@")
    if not sep:
        return spec, None
    try:
        value = float(budget)
    except ValueError:
        raise ValueError(f"pool spec {spec!r}: the budget after '@' must be a number, e.g. prose@0.2") from None
    return source, value


def prose_pool(budget: float | None = None) -> CleanPool:
    """The safe rows of the real-prose corpus's calibration batches (held out of training and testing)."""
    from nines.data.prose import load_prose

    rows = [s for s in load_prose() if s.split == "val" and s.is_injurious is False]
    return CleanPool("prose", [s.prompt for s in rows], [s.completion for s in rows], budget)


def file_pool(path: str, budget: float | None = None, generator: Any = None, seed: int = 0) -> CleanPool:
    """A pool from a JSONL of pairs, or of prompts continued once each by ``generator``."""
    from nines.data.io import iter_jsonl_rows

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"pool file {path} does not exist; give a JSONL of prompt/completion rows")
    prompts, comps = [], []
    for lineno, row in iter_jsonl_rows(p):
        if "prompt" not in row or not isinstance(row["prompt"], str):
            raise ValueError(f"{path}, line {lineno}: a pool row needs a string 'prompt'")
        prompts.append(row["prompt"])
        comps.append(row.get("completion"))
    missing = [i for i, c in enumerate(comps) if not isinstance(c, str)]
    if missing and generator is None:
        raise ValueError(f"{path}: {len(missing)} rows have no 'completion'; add completions or pass a "
                         "generator (--pool-generator SPEC) to write one first sample per prompt")
    if missing:
        outs = generator.generate([prompts[i] for i in missing], n=1, seed=seed)
        for i, out in zip(missing, outs):
            comps[i] = out[0].text
    return CleanPool(p.name, prompts, [str(c) for c in comps], budget)


def resolve_pools(specs: Sequence[str], generator: Any = None) -> list[CleanPool]:
    """Build the pools named by ``specs`` (see the module docstring)."""
    pools = []
    for spec in specs:
        source, budget = parse_pool_spec(spec)
        pools.append(prose_pool(budget) if source == "prose" else file_pool(source, budget, generator))
    return pools


def threshold_over_pools(scores: Sequence[np.ndarray], pools: Sequence[CleanPool],
                         default_budget: float) -> tuple[float, list[PoolResult]]:
    """The smallest threshold that keeps every pool within its budget, and each pool's rate at it.

    Rejection is ``score > threshold``; each pool's own threshold is
    :func:`~nines.classify.metrics.threshold_at_rejection`, and the largest of them is within every
    budget at once (a larger threshold never rejects more).
    """
    alone = [threshold_at_rejection(s, p.budget if p.budget is not None else default_budget)
             for s, p in zip(scores, pools)]
    t = max(alone)
    return t, pool_results(scores, pools, default_budget, t, alone)


def pool_results(scores: Sequence[np.ndarray], pools: Sequence[CleanPool], default_budget: float,
                 threshold: float, alone: Sequence[float] | None = None) -> list[PoolResult]:
    """Each pool's rejection rate at ``threshold`` (for reports, and for rules other than the budget)."""
    out = []
    for i, (s, p) in enumerate(zip(scores, pools)):
        budget = p.budget if p.budget is not None else default_budget
        t_alone = alone[i] if alone is not None else threshold_at_rejection(s, budget)
        out.append(PoolResult(p.name, len(s), budget, t_alone, float(np.mean(np.asarray(s) > threshold))))
    return out
