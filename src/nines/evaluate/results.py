"""Typed results at the stage boundaries of a run: evaluation, the seed-set check and the demo's summary.

Each has ``to_dict()`` giving the JSON written to ``summary.json``; the report reads the objects.
(The calibration's result, :class:`nines.classify.calibrate.Calibration`, lives beside the code that
makes it, as does an evaluation condition's, :class:`nines.evaluate.storyworld_eval.ConditionResult`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nines.stats.binomial import Interval

if TYPE_CHECKING:
    from nines.classify.calibrate import Calibration
    from nines.evaluate.measure_results import Measurements
    from nines.evaluate.prose_eval import ProseMetrics
    from nines.evaluate.storyworld_eval import ConditionResult


@dataclass
class Evaluation:
    """The filter evaluated against the oracle, per condition, and the measurements on top.

    Attributes:
        conditions: one result per condition (a set of realisation families), in run order.
        families: each condition's families by name (``None``: all families).
        measures: the measurement sections (:func:`nines.evaluate.measure.run_measurements`), or
            ``None`` when they were skipped.
        classifier: the classifier folder evaluated (empty when evaluated in memory).
        threshold: the classifier's threshold during the evaluation.
    """

    conditions: list[ConditionResult]
    families: dict[str, list[str] | None]
    measures: Measurements | None = None
    classifier: str = ""
    threshold: float = float("nan")

    def condition(self, name: str) -> ConditionResult:
        """The condition called ``name``."""
        for c in self.conditions:
            if c.name == name:
                return c
        raise KeyError(f"no condition {name!r}; the evaluation has {[c.name for c in self.conditions]}")

    def conditions_dict(self) -> dict[str, Any]:
        return {c.name: c.to_dict() for c in self.conditions}

    def to_dict(self) -> dict[str, Any]:
        """``nines evaluate``'s ``summary.json``: classifier, threshold, conditions (and measures)."""
        out: dict[str, Any] = {"classifier": self.classifier, "threshold": self.threshold,
                               "conditions": self.conditions_dict()}
        if self.measures is not None:
            out["measures"] = self.measures.to_dict()
        return out


@dataclass(frozen=True)
class SeedTest:
    """The classifier on the hand-written seed set's test part (real prose), at its threshold."""

    recall: Interval
    false_positive_rate: Interval

    def to_dict(self) -> dict[str, Any]:
        return {"recall": self.recall.to_dict(), "false_positive_rate": self.false_positive_rate.to_dict()}


@dataclass(frozen=True)
class TrainingSummary:
    """How training went (from :class:`nines.classify.train.TrainResult`)."""

    steps: int
    best_step: int | None
    best_val_recall_at_budget: float | None
    seconds: float

    @classmethod
    def from_result(cls, result: Any) -> TrainingSummary:
        return cls(result.steps, result.best_step, result.best_metric, result.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "best_step": self.best_step,
                "best_val_recall_at_budget": self.best_val_recall_at_budget, "seconds": self.seconds}


@dataclass
class RunSummary:
    """``nines demo``'s results; :meth:`to_dict` is ``summary.json``.

    Attributes:
        config: the resolved run config (:func:`nines.config.to_dict` of the demo's config).
        data: counts of the run's data (:attr:`nines.recipes.data.RunData.counts`).
        training: how training went.
        calibration: the temperature and threshold, with the scores they came from.
        seed_test: the seed set's held-out recall and false-positive rate.
        evaluation: the conditions and measurements.
        timings: seconds per stage.
        real_prose: the labelled real-prose sets at the threshold.
        training_history: the training curve (per evaluation step), for the report.
        distillation: ``nines demo --distill``'s figures, or ``None``.
    """

    config: dict[str, Any]
    data: dict[str, Any]
    training: TrainingSummary
    calibration: Calibration
    seed_test: SeedTest
    evaluation: Evaluation
    timings: dict[str, float]
    real_prose: Sequence[ProseMetrics] = ()
    training_history: list[dict[str, Any]] = field(default_factory=list)
    distillation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``summary.json`` (the training history and per-sample scores are left out)."""
        out: dict[str, Any] = {
            "config": self.config, "data": self.data, "training": self.training.to_dict(),
            "calibration": self.calibration.to_dict(), "seed_test": self.seed_test.to_dict(),
            "conditions": self.evaluation.conditions_dict(), "timings": dict(self.timings),
            "measures": self.evaluation.measures.to_dict() if self.evaluation.measures else None, "real_prose": [m.to_dict() for m in self.real_prose],
        }
        if self.distillation is not None:
            out["distillation"] = self.distillation
        return out
