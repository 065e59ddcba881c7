"""Rejection sampling: resample until the injury classifier accepts, batched over prompts."""

from nines.filter.config import FilterConfig
from nines.filter.rejection import FilteredGenerator, FilterResult, filter_generate, round_seed
from nines.filter.stats import FilterStats, rejection_stats

__all__ = [
    "FilterConfig",
    "FilterResult",
    "FilterStats",
    "FilteredGenerator",
    "filter_generate",
    "rejection_stats",
    "round_seed",
]
