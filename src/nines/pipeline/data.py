"""Moved to :mod:`nines.recipes.data`; this name is kept so old imports keep working."""

from nines.recipes.data import DataConfig, RunData, build_run_data, enriched_storyworld, relabel

__all__ = ["DataConfig", "RunData", "build_run_data", "enriched_storyworld", "relabel"]
