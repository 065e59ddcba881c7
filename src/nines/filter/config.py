"""``FilterConfig``: how rejection sampling samples, judges and gives up.

The threshold rule lives here (:meth:`FilterConfig.effective_threshold`) so the sampler, the stats
and anyone reading a saved config agree on exactly what threshold a completion was judged against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["sequential", "batch_first", "batch_safest"]
Fallback = Literal["refuse", "safest"]

STRATEGIES: tuple[str, ...] = ("sequential", "batch_first", "batch_safest")
FALLBACKS: tuple[str, ...] = ("refuse", "safest")


@dataclass
class FilterConfig:
    """Settings for :func:`nines.filter.filter_generate`.

    Attributes:
        strategy: ``"sequential"`` samples one completion per prompt per round until one is
            accepted; ``"batch_first"`` samples ``batch_size`` per round and returns the first
            accepted one of the batch (in sampling order); ``"batch_safest"`` samples
            ``batch_size`` per round and returns the lowest-scoring accepted one of the batch
            (earliest on ties).
        batch_size: completions per prompt per round for the batch strategies (ignored by
            ``"sequential"``). The last round is cut short so ``max_attempts`` is never exceeded.
        max_attempts: cap on the completions sampled per prompt; then ``fallback`` applies.
        threshold: base threshold; a completion is rejected when its score is strictly above the
            effective threshold. ``None`` uses the classifier's own ``threshold``.
        tighten_after: number of rejections after which the threshold starts tightening
            (``None``: never). Many rejections are evidence the prompt itself is dangerous, so we
            demand more confidence before accepting anything for it.
        tighten_factor: multiplier in (0, 1] applied per rejection once tightening has started
            (1 disables tightening).
        min_threshold: floor in (0, 1] for the tightened threshold, so tightening never demands a
            score of exactly 0. The floor is ``min(min_threshold, base)``: tightening never loosens.
        fallback: after ``max_attempts`` with nothing accepted, ``"refuse"`` returns no completion
            and ``"safest"`` returns the lowest-scoring completion seen, flagged as not accepted.
        seed: base seed; round ``i`` passes a seed derived from ``(seed, i)`` to the generator so
            runs are reproducible. ``None`` passes ``None`` (non-deterministic backends).

    The effective threshold for a completion, with ``t`` the base threshold, ``r`` the number of
    this prompt's completions rejected in *earlier rounds* and ``a = tighten_after``::

        r < a (or a is None):  t
        r >= a:                max(min(min_threshold, t), t * tighten_factor ** (r - a + 1))

    It is non-increasing in ``r``. With ``"sequential"`` every completion is its own round, so
    ``r`` is simply the number of rejections before it; the batch strategies judge all
    completions of one round against the same threshold, because they are exchangeable samples
    and their order within a batch should not matter.
    """

    strategy: Strategy = "sequential"
    batch_size: int = 4
    max_attempts: int = 16
    threshold: float | None = None
    tighten_after: int | None = None
    tighten_factor: float = 0.5
    min_threshold: float = 0.01
    fallback: Fallback = "refuse"
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"filter.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        if self.fallback not in FALLBACKS:
            raise ValueError(f"filter.fallback must be 'refuse' or 'safest', got {self.fallback!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(
                f"filter.batch_size must be an integer >= 1 (completions per prompt per round), "
                f"got {self.batch_size!r}"
            )
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(
                f"filter.max_attempts must be an integer >= 1 (completions sampled per prompt before "
                f"the fallback), got {self.max_attempts!r}"
            )
        if self.strategy != "sequential" and self.max_attempts < self.batch_size:
            # Almost certainly a mistake: the very first batch would already be truncated.
            raise ValueError(
                f"filter.max_attempts={self.max_attempts} is below filter.batch_size={self.batch_size} "
                f"with strategy {self.strategy!r}; raise max_attempts to at least batch_size "
                f"(ideally a multiple of it) or lower batch_size"
            )
        if self.threshold is not None and not (
            isinstance(self.threshold, (int, float)) and 0.0 <= self.threshold <= 1.0
        ):
            raise ValueError(
                f"filter.threshold must be a probability in [0, 1], or null to use the classifier's "
                f"threshold; got {self.threshold!r}"
            )
        if self.tighten_after is not None and (
            isinstance(self.tighten_after, bool) or not isinstance(self.tighten_after, int) or self.tighten_after < 1
        ):
            raise ValueError(
                f"filter.tighten_after must be an integer >= 1 or null (no tightening), got "
                f"{self.tighten_after!r}; to start stricter, lower filter.threshold instead"
            )
        if not (isinstance(self.tighten_factor, (int, float)) and 0.0 < self.tighten_factor <= 1.0):
            raise ValueError(
                f"filter.tighten_factor must be in (0, 1] (e.g. 0.5 halves the threshold per further "
                f"rejection; 1 disables tightening), got {self.tighten_factor!r}"
            )
        if not (isinstance(self.min_threshold, (int, float)) and 0.0 < self.min_threshold <= 1.0):
            raise ValueError(
                f"filter.min_threshold must be in (0, 1] so tightening never demands a score of exactly "
                f"0 (e.g. 0.01), got {self.min_threshold!r}"
            )
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"filter.seed must be an integer or null, got {self.seed!r}")

    @property
    def samples_per_round(self) -> int:
        """Completions sampled per pending prompt in a full round (1 for ``"sequential"``)."""
        return 1 if self.strategy == "sequential" else self.batch_size

    def effective_threshold(self, base: float, rejections: int) -> float:
        """The threshold after ``rejections`` earlier-round rejections (see the class docstring).

        Args:
            base: the base threshold (``threshold`` or the classifier's).
            rejections: this prompt's completions rejected in earlier rounds.

        Returns:
            The threshold a completion sampled now is judged against; non-increasing in
            ``rejections`` and never below ``min(min_threshold, base)``.
        """
        if self.tighten_after is None or rejections < self.tighten_after:
            return base
        floor = min(self.min_threshold, base)
        steps = rejections - self.tighten_after + 1
        # math.pow underflows to 0.0 rather than raising, and the floor catches that anyway.
        return max(floor, base * math.pow(self.tighten_factor, steps))
