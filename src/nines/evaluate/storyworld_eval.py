"""Evaluate a filter against StoryWorld's exact oracle: unfiltered vs filtered failure rates with bounds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nines.classify.base import Classifier
from nines.filter import FilterConfig, filter_generate, rejection_stats
from nines.stats.binomial import Interval, Method, binomial_interval


@dataclass
class EvalConfig:
    """How the filter is evaluated on StoryWorld.

    Attributes:
        n_prompts: held-out prompts run through the filter, per condition (in-family, unseen families).
        n_unfiltered: unfiltered completions checked by the oracle per condition (cheap: no classifier).
        distribution: StoryWorld prompt distribution (``default`` or ``random_excerpt``).
        seed: seeds held-out prompts; keep it apart from the training seeds.
        confidence: two-sided confidence level of every interval.
        method: interval method; ``clopper-pearson`` is exact.
    """

    n_prompts: int = 20000
    n_unfiltered: int = 200000
    distribution: str = "default"
    seed: int = 1_000_003
    confidence: float = 0.95
    method: Method = "clopper-pearson"

    def __post_init__(self) -> None:
        if self.n_prompts < 1 or self.n_unfiltered < 1:
            raise ValueError("eval.n_prompts and eval.n_unfiltered must be >= 1")
        if not 0 < self.confidence < 1:
            raise ValueError("eval.confidence must be in (0, 1), e.g. 0.95")


@dataclass
class ConditionResult:
    """Figures for one condition (a set of realisation families)."""

    name: str
    families: list[str]
    unfiltered: Interval
    unfiltered_exact: float  # mean exact p(injurious) over the sampled prompts
    filtered: Interval  # failures among returned completions
    n_prompts: int
    refused: int
    fallback: int
    first_sample_rejection_rate: float
    attempts_per_accepted: float
    mean_attempts: float
    quality_unfiltered: float
    quality_filtered: float
    filtered_failure_examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["unfiltered"] = self.unfiltered.to_dict()
        d["filtered"] = self.filtered.to_dict()
        return d


def evaluate_condition(
    world: Any, classifier: Classifier, name: str, families: Sequence[str] | None,
    filter_config: FilterConfig, config: EvalConfig, progress: bool = True, seed_offset: int = 0,
) -> ConditionResult:
    """Run the filter on fresh prompts whose completions come from ``families``, and check with the oracle.

    ``seed_offset`` keeps the prompts of different conditions apart (same offset, same prompts).
    """
    fam = list(families) if families is not None else None
    seed = config.seed + 1000 * seed_offset
    # Unfiltered: the oracle is free, so check many more completions than the filter run can afford.
    batch = world.sample(config.n_unfiltered, seed=seed, distribution=config.distribution, families=fam)
    k_unf = int(np.sum(batch.injurious))
    unfiltered = binomial_interval(k_unf, len(batch), config.confidence, config.method)

    prompts = world.sample_prompts(config.n_prompts, seed=seed + 1, distribution=config.distribution)
    results = filter_generate(world.generator(families=fam), classifier, prompts, filter_config, progress=progress)
    returned = [r for r in results if r.completion is not None]
    failures = [r for r in returned if r.completion_meta.get("injurious")]
    filtered = binomial_interval(len(failures), len(returned), config.confidence, config.method)
    stats = rejection_stats(results)
    q_filtered = float(np.mean([r.completion_meta.get("quality", np.nan) for r in returned])) if returned else np.nan
    return ConditionResult(
        name=name, families=fam or list(world.families), unfiltered=unfiltered,
        unfiltered_exact=float(np.mean(batch.p_injurious)), filtered=filtered, n_prompts=len(prompts),
        refused=stats.n_refused, fallback=stats.n_fallback,
        first_sample_rejection_rate=stats.first_sample_rejection_rate,
        attempts_per_accepted=stats.attempts_per_accepted, mean_attempts=stats.mean_attempts,
        quality_unfiltered=float(np.mean(batch.quality)), quality_filtered=q_filtered,
        filtered_failure_examples=[
            {"prompt": r.prompt, "completion": r.completion, "score": r.score,
             "outcome": r.completion_meta.get("outcome"), "family": r.completion_meta.get("family"),
             "scene_id": r.completion_meta.get("scene_id")}
            for r in failures[:200]
        ],
    )
