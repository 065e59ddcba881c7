"""The distill recipe: ``nines distill`` and ``nines demo --distill`` both run :func:`distill`.

The distillation itself is :func:`nines.distill.run.run_distill`; this entry point adds the run
manifest (the classifier's family split the policies were trained on, the config, versions) to
its output folder.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from nines.config import to_dict
from nines.distill.run import DistillConfig, run_distill
from nines.manifest import family_split, record_stage


def distill(cfg: DistillConfig, progress: bool = True, console: Console | None = None) -> dict[str, Any]:
    """Distil ``cfg.classifier``'s filter into one policy; returns :func:`run_distill`'s results."""
    results = run_distill(cfg, progress=progress, console=console)
    split = family_split(cfg.classifier) if cfg.families == "classifier" else None
    record_stage(cfg.output, "distill", to_dict(cfg), families=split, inputs={"classifier": str(cfg.classifier)})
    return results
