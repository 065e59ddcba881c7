"""Evaluate a filter on StoryWorld prompts: unfiltered vs filtered failure rates with bounds.

StoryWorld supplies the prompts and the generator; the labels come through an
:class:`~nines.oracle.Oracle` (StoryWorld's exact one by default), so a table of human labels or a
judge can stand in for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nines.classify.base import Classifier
from nines.filter import FilterConfig, FilterResult, filter_generate, rejection_stats
from nines.generate.base import Prompt
from nines.oracle.base import ExactOracle, Oracle, label_all
from nines.stats.binomial import Interval, Method, binomial_interval

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld


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
    """Figures for one condition (a set of realisation families).

    ``unlabelled`` counts returned completions the oracle could not label (always 0 with
    StoryWorld's exact oracle); they are left out of ``filtered``.
    """

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
    unlabelled: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["unfiltered"] = self.unfiltered.to_dict()
        d["filtered"] = self.filtered.to_dict()
        return d


def _labels(oracle: Oracle, prompts: Sequence[Prompt], completions: Sequence[str]) -> np.ndarray:
    """Oracle labels as a float array: 1 injurious, 0 safe, NaN where the oracle cannot say."""
    return np.array([np.nan if y is None else float(y) for y in label_all(oracle, prompts, completions)])


def _failure_example(r: FilterResult, prompt: Prompt) -> dict[str, Any]:
    return {"prompt": r.prompt, "prompt_id": r.prompt_id, "completion": r.completion, "score": r.score,
            "outcome": r.completion_meta.get("outcome"), "family": r.completion_meta.get("family"),
            "scene_id": prompt.meta.get("scene_id", r.completion_meta.get("scene_id"))}


def evaluate_condition(
    world: StoryWorld, classifier: Classifier, name: str, families: Sequence[str] | None,
    filter_config: FilterConfig, config: EvalConfig, progress: bool = True, seed_offset: int = 0,
    oracle: Oracle | None = None,
) -> ConditionResult:
    """Run the filter on fresh StoryWorld prompts whose completions come from ``families``; label
    unfiltered and returned completions with ``oracle``.

    Args:
        world: the prompt source and generator (a StoryWorld recipe).
        classifier: the filter's classifier.
        name: the condition's name in reports.
        families: completion families (``None``: all).
        filter_config: the filter's settings.
        config: sizes, seed and interval settings.
        progress: show the filter's progress bar.
        seed_offset: keeps the prompts of different conditions apart (same offset, same prompts).
        oracle: where labels come from; default ``world.oracle(families)``, exact. Its
            ``probability`` (an :class:`~nines.oracle.ExactOracle`) gives ``unfiltered_exact``
            (NaN for an oracle without one).
    """
    fam = list(families) if families is not None else None
    oracle = oracle if oracle is not None else world.oracle(fam)
    seed = config.seed + 1000 * seed_offset
    # Unfiltered: cheap (no classifier), so many more completions are labelled than the filter can afford.
    batch = world.sample(config.n_unfiltered, seed=seed, distribution=config.distribution, families=fam)
    batch_prompts = batch.prompt_objects()
    y_unf = _labels(oracle, batch_prompts, batch.completions)
    known = ~np.isnan(y_unf)
    unfiltered = binomial_interval(int(np.nansum(y_unf)), int(known.sum()), config.confidence, config.method)
    exact = (float(np.mean(oracle.probability(batch_prompts))) if isinstance(oracle, ExactOracle)
             else float("nan"))

    prompts = world.sample_prompts(config.n_prompts, seed=seed + 1, distribution=config.distribution)
    results = filter_generate(world.generator(families=fam), classifier, prompts, filter_config, progress=progress)
    returned = [i for i, r in enumerate(results) if r.completion is not None]
    y = _labels(oracle, [prompts[i] for i in returned], [results[i].completion or "" for i in returned])
    failures = [i for i, v in zip(returned, y.tolist()) if v == 1.0]
    n_known = int((~np.isnan(y)).sum())
    filtered = binomial_interval(len(failures), n_known, config.confidence, config.method)
    stats = rejection_stats(results)
    q = [results[i].completion_meta.get("quality", np.nan) for i in returned]
    return ConditionResult(
        name=name, families=fam or list(world.families), unfiltered=unfiltered,
        unfiltered_exact=exact, filtered=filtered, n_prompts=len(prompts),
        refused=stats.n_refused, fallback=stats.n_fallback,
        first_sample_rejection_rate=stats.first_sample_rejection_rate,
        attempts_per_accepted=stats.attempts_per_accepted, mean_attempts=stats.mean_attempts,
        quality_unfiltered=float(np.mean(batch.quality)), quality_filtered=float(np.mean(q)) if q else np.nan,
        filtered_failure_examples=[_failure_example(results[i], prompts[i]) for i in failures[:200]],
        unlabelled=len(returned) - n_known,
    )
