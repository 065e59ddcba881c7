"""Moved to :mod:`nines.recipes.demo`; this name is kept so old imports keep working."""

from nines.recipes.demo import QUICK_DISTILL_OVERRIDES, QUICK_OVERRIDES, DemoConfig, run_demo

__all__ = ["QUICK_DISTILL_OVERRIDES", "QUICK_OVERRIDES", "DemoConfig", "run_demo"]
