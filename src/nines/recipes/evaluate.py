"""The evaluate recipe: the filter against the oracle per family condition, then the measurements.

``nines demo`` (its steps 4 and 5) and ``nines evaluate`` both call :func:`evaluate`, so the
conditions, their seeds and the measurements cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from nines.evaluate.measure import MeasureConfig, run_measurements
from nines.evaluate.measure_results import Measurements
from nines.evaluate.results import Evaluation
from nines.evaluate.storyworld_eval import EvalConfig, evaluate_condition
from nines.filter import FilterConfig
from nines.manifest import FamilySplit
from nines.stats.binomial import nines_line


def conditions_for(split: FamilySplit | None) -> list[tuple[str, list[str] | None]]:
    """The conditions a split gives, in order: ``in-family`` and ``unseen families``.

    Without a recorded split the classifier is evaluated on ``all families`` (``None``); with a split
    that holds nothing out, on its training families alone.
    """
    if split is None:
        return [("all families", None)]
    conditions: list[tuple[str, list[str] | None]] = [("in-family", list(split.train))]
    if split.heldout:
        conditions.append(("unseen families", list(split.heldout)))
    return conditions


def evaluate(world: Any, clf: Any, split: FamilySplit | None, filter_cfg: FilterConfig, eval_cfg: EvalConfig,
             measure_cfg: MeasureConfig | None = None, *, progress: bool = True, console: Console | None = None,
             classifier: str = "") -> Evaluation:
    """Evaluate ``clf``'s filter on fresh prompts of each condition, then measure (unless ``measure_cfg`` is None).

    Args:
        world: StoryWorld (prompts, the unfiltered generator and the exact oracle).
        clf: the calibrated classifier.
        split: the classifier's family split (:func:`nines.manifest.family_split`).
        filter_cfg: the filter being evaluated.
        eval_cfg: prompts per condition, interval method, seed.
        measure_cfg: the measurements (reliability, win rate, batch vs sequential, understanding).
        progress: show progress bars.
        console: where the figures are printed.
        classifier: the classifier's folder, recorded in the result.
    """
    con = console or Console()
    conditions = conditions_for(split)
    results = []
    # The seed offset is the condition's position, so a condition's prompts are the same in every run.
    for i, (name, fams) in enumerate(conditions):
        res = evaluate_condition(world, clf, name, fams, filter_cfg, eval_cfg, progress=progress, seed_offset=i)
        results.append(res)
        con.print(f"[bold]{name}[/]: unfiltered {res.unfiltered}; filtered {res.filtered}; "
                  f"first-sample rejection {res.first_sample_rejection_rate:.2%}, "
                  f"{res.attempts_per_accepted:.3f} samples per accepted completion")
        con.print("  " + nines_line(res.filtered, "filtered completions"))
    ev = Evaluation(results, dict(conditions), None, classifier=classifier, threshold=float(clf.threshold))
    if measure_cfg is not None:
        ev.measures = measure(world, clf, ev, measure_cfg, filter_cfg, eval_cfg, console=con)
    return ev


def measure(world: Any, clf: Any, evaluation: Evaluation, cfg: MeasureConfig, filter_cfg: FilterConfig,
            eval_cfg: EvalConfig, console: Console | None = None) -> Measurements:
    """The measurements on ``evaluation``'s conditions (:func:`nines.evaluate.measure.run_measurements`)."""
    return run_measurements(world, clf, evaluation.conditions, evaluation.families, cfg, filter_cfg, eval_cfg,
                            console=console)
