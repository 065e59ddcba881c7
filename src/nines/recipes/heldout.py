"""The held-out recipe: a calibrated filter measured on held-out prompts against an exact oracle.

For any task whose generator has an exact oracle (SafeText, StoryWorld), ``nines measure`` calls
:func:`measure_heldout`:

- **unfiltered**: ``samples_per_prompt`` fresh samples per prompt, labelled by the oracle: the
  unfiltered failure rate (and the oracle's exact rate when it is an
  :class:`~nines.oracle.ExactOracle`), the classifier's **recall** (positives flagged) and
  **false-flag rate** (negatives flagged) at its threshold;
- **filtered**: the rejection filter (:func:`nines.scale.shards.filter_in_shards`, so the same
  output as ``nines filter`` with the same config and shard size), or a ``nines filter`` output
  file; its returned completions are labelled by (prompt id, completion), and their failure rate
  gets a Clopper-Pearson interval (:mod:`nines.stats.binomial`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nines.filter import FilterConfig, FilterResult, rejection_stats
from nines.generate.base import Generator, Prompt, as_prompts
from nines.oracle.base import Oracle, label_all
from nines.scale.shards import DEFAULT_SHARD_SIZE, filter_in_shards
from nines.stats.binomial import Interval, Method, binomial_interval


@dataclass
class HeldOutConfig:
    """How the held-out measurement samples.

    Attributes:
        samples_per_prompt: unfiltered samples per prompt for the failure rate, recall and false-flag rate.
        confidence: two-sided confidence of every interval.
        method: binomial interval method (``clopper-pearson`` is exact and conservative).
        seed: seed of the unfiltered samples (the filter has its own, ``filter.seed``).
        shard_size: prompts per filter shard (as ``nines filter --shard-size``).
        filter_repeats: filter every prompt this many times (repeat ``r`` with filter seed
            ``filter.seed + r``), for more filtered completions than prompts; 1 is one ``nines filter`` run.
    """

    samples_per_prompt: int = 8
    confidence: float = 0.95
    method: Method = "clopper-pearson"
    seed: int = 20221
    shard_size: int = DEFAULT_SHARD_SIZE
    filter_repeats: int = 1

    def __post_init__(self) -> None:
        if self.samples_per_prompt < 1:
            raise ValueError("samples_per_prompt must be >= 1, e.g. samples_per_prompt=8")
        if not 0 < self.confidence < 1:
            raise ValueError("confidence must be in (0, 1), e.g. confidence=0.95")
        if self.shard_size < 1 or self.filter_repeats < 1:
            raise ValueError("shard_size and filter_repeats must be >= 1")


@dataclass
class HeldOutResult:
    """The figures of one held-out measurement (see the module docstring)."""

    task: str
    positive: str
    n_prompts: int
    threshold: float
    unfiltered: Interval
    unfiltered_exact: float | None
    recall: Interval
    false_flag: Interval
    flag_rate: float
    filtered: Interval
    first_sample_rejection_rate: float
    attempts_per_accepted: float
    refused: int
    fallback: int
    unlabelled: int
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = v.to_dict() if isinstance(v, Interval) else v
        return out

    def lines(self) -> list[str]:
        """The figures as short lines for the terminal."""
        exact = "" if self.unfiltered_exact is None else f" (exact {self.unfiltered_exact:.4g})"
        return [
            f"held-out prompts: {self.n_prompts}; threshold {self.threshold:.4g}",
            f"unfiltered {self.positive} rate: {self.unfiltered}{exact}",
            f"recall at threshold: {self.recall}",
            f"false-flag rate at threshold: {self.false_flag}",
            f"filtered {self.positive} rate: {self.filtered}",
            f"first-sample rejection {self.first_sample_rejection_rate:.2%}, "
            f"{self.attempts_per_accepted:.3f} samples per accepted, {self.refused} refused, {self.fallback} fallback",
        ]


def _rate(k: int, n: int, cfg: HeldOutConfig) -> Interval:
    return binomial_interval(int(k), int(n), cfg.confidence, cfg.method)


def results_from_rows(rows: Sequence[Mapping[str, Any]], base_threshold: float) -> list[FilterResult]:
    """:class:`FilterResult` objects from ``nines filter``'s JSONL rows (for the figures, not for refiltering)."""
    out = []
    for r in rows:
        out.append(FilterResult(
            prompt=r["prompt"], prompt_id=r["prompt_id"], completion=r.get("completion"),
            accepted=bool(r["accepted"]), attempts=int(r["attempts"]), scores=[float(x) for x in r["scores"]],
            rule=r["rule"], threshold_used=float(r["threshold_used"]), completion_meta=dict(r.get("metadata") or {}),
            logprob=None, base_threshold=base_threshold, rounds=1, score=r.get("score"), run_id="file"))
    return out


def _exact(oracle: Any, prompts: Sequence[Prompt]) -> float | None:
    fn = getattr(oracle, "probability", None)
    return float(np.mean(fn(prompts))) if callable(fn) and prompts else None


def _filter_repeats(generator: Generator, classifier: Any, prompts: list[Prompt], filter_cfg: FilterConfig,
                    cfg: HeldOutConfig, progress: bool) -> list[FilterResult]:
    out: list[FilterResult] = []
    for r in range(cfg.filter_repeats):
        seed = None if filter_cfg.seed is None else filter_cfg.seed + r
        out += filter_in_shards(generator, classifier, prompts, replace(filter_cfg, seed=seed), cfg.shard_size,
                                progress=progress)
    return out


def measure_heldout(generator: Generator, classifier: Any, oracle: Oracle, prompts: Sequence[Any],
                    filter_cfg: FilterConfig, cfg: HeldOutConfig, *, task: Any = None,
                    filtered: Sequence[FilterResult] | None = None, progress: bool = False) -> HeldOutResult:
    """Measure ``classifier``'s filter on held-out ``prompts`` against ``oracle``.

    Args:
        generator: the unfiltered generator.
        classifier: the calibrated classifier (its ``threshold`` is the one measured).
        oracle: labels (prompt id, completion) pairs; an exact one also gives the exact unfiltered rate.
        prompts: the held-out prompts (:class:`~nines.generate.base.Prompt` objects keep their ids).
        filter_cfg: the filter's config.
        cfg: sampling and interval settings.
        task: the :class:`~nines.tasks.TaskConfig` (its name and positive label go in the result).
        filtered: results of an earlier ``nines filter`` run on these prompts; ``None`` filters here.
        progress: show progress bars.

    Raises:
        ValueError: with no prompts, or when the oracle labels none of the unfiltered samples.
    """
    ps = as_prompts(prompts)
    if not ps:
        raise ValueError("no held-out prompts to measure on")
    t0 = time.perf_counter()
    out = generator.generate(ps, n=cfg.samples_per_prompt, seed=cfg.seed)
    pairs = [(p, c.text) for p, cs in zip(ps, out) for c in cs]
    y = label_all(oracle, [p for p, _ in pairs], [c for _, c in pairs])
    t1 = time.perf_counter()
    s = np.asarray(classifier.score([p.text for p, _ in pairs], [c for _, c in pairs], progress=progress))
    t2 = time.perf_counter()
    known = np.array([v is not None for v in y])
    if not known.any():
        raise ValueError(f"oracle {getattr(oracle, 'name', '?')!r} labelled none of the {len(pairs)} unfiltered samples")
    pos = np.array([v is True for v in y])
    neg = np.array([v is False for v in y])
    flag = s > classifier.threshold
    results = list(filtered) if filtered is not None else _filter_repeats(generator, classifier, ps, filter_cfg,
                                                                           cfg, progress)
    t3 = time.perf_counter()
    back = [r for r in results if r.completion is not None]
    yf = label_all(oracle, [Prompt(r.prompt_id, r.prompt) for r in back], [r.completion or "" for r in back])
    st = rejection_stats(results)
    return HeldOutResult(
        task=getattr(task, "name", "injury"), positive=getattr(task, "positive", "injurious"), n_prompts=len(ps),
        threshold=float(classifier.threshold), unfiltered=_rate(pos.sum(), known.sum(), cfg),
        unfiltered_exact=_exact(oracle, ps), recall=_rate((flag & pos).sum(), pos.sum(), cfg),
        false_flag=_rate((flag & neg).sum(), neg.sum(), cfg), flag_rate=float(flag.mean()),
        filtered=_rate(sum(v is True for v in yf), sum(v is not None for v in yf), cfg),
        first_sample_rejection_rate=st.first_sample_rejection_rate,
        attempts_per_accepted=st.attempts_per_accepted if math.isfinite(st.attempts_per_accepted) else math.inf,
        refused=st.n_refused, fallback=st.n_fallback,
        unlabelled=int((~known).sum()) + sum(v is None for v in yf),
        seconds={"sample_and_label": t1 - t0, "score": t2 - t1, "filter": t3 - t2 if filtered is None else 0.0})
