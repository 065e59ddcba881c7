"""Summary statistics over :class:`~nines.filter.rejection.FilterResult` lists."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nines.filter.rejection import FilterResult


@dataclass
class FilterStats:
    """What rejection sampling cost and how it ended.

    ``n_accepted + n_refused + n_fallback == n_prompts``.

    Attributes:
        n_prompts: results summarised.
        n_accepted: results with ``rule == "accepted"``.
        n_refused: results with no completion (``rule == "fallback_refuse"``).
        n_fallback: results that returned the safest, unaccepted completion
            (``rule == "fallback_safest"``).
        mean_attempts: completions sampled per prompt, on average (NaN with no prompts).
        attempts_per_accepted: all completions sampled divided by ``n_accepted``: the sampling
            cost of one accepted completion (``inf`` when none was accepted, NaN with no prompts).
        first_sample_rejection_rate: fraction of prompts whose first sampled completion was
            rejected at the base threshold (NaN scores count as rejected; NaN with no prompts).
        total_generator_calls: ``generator.generate`` calls made (= rounds, summed over runs).
        total_classifier_calls: ``classifier.score`` calls made (one per round as well).
    """

    n_prompts: int
    n_accepted: int
    n_refused: int
    n_fallback: int
    mean_attempts: float
    attempts_per_accepted: float
    first_sample_rejection_rate: float
    total_generator_calls: int
    total_classifier_calls: int


def _first_rejected(r: FilterResult) -> bool:
    if not r.scores:
        return False
    s = r.scores[0]
    # The first sample is always judged at the base threshold: no rejections precede it.
    return math.isnan(s) or s > r.base_threshold


def rejection_stats(results: Sequence[FilterResult]) -> FilterStats:
    """Summarise rejection sampling results.

    Results may be concatenated from several :func:`~nines.filter.filter_generate` calls: the
    call counts add up the rounds of each run (told apart by ``FilterResult.run_id``; within one
    run all prompts start together, so its rounds are the most any of its prompts took part in).

    Args:
        results: the results to summarise.

    Returns:
        The :class:`FilterStats`.
    """
    n = len(results)
    n_accepted = sum(r.rule == "accepted" for r in results)
    n_refused = sum(r.rule == "fallback_refuse" for r in results)
    n_fallback = sum(r.rule == "fallback_safest" for r in results)
    total_attempts = sum(r.attempts for r in results)
    rounds_per_run: dict[str, int] = {}
    for r in results:
        rounds_per_run[r.run_id] = max(rounds_per_run.get(r.run_id, 0), r.rounds)
    calls = sum(rounds_per_run.values())
    if n == 0:
        mean_attempts = per_accepted = first_rate = math.nan
    else:
        mean_attempts = total_attempts / n
        per_accepted = total_attempts / n_accepted if n_accepted else math.inf
        first_rate = sum(_first_rejected(r) for r in results) / n
    return FilterStats(
        n_prompts=n,
        n_accepted=n_accepted,
        n_refused=n_refused,
        n_fallback=n_fallback,
        mean_attempts=mean_attempts,
        attempts_per_accepted=per_accepted,
        first_sample_rejection_rate=first_rate,
        total_generator_calls=calls,
        total_classifier_calls=calls,
    )
