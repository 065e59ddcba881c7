"""The reports name the task's predicate: "unsafe" for SafeText, "injurious" (as before) for the injury task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labelled_sim import ScenarioClassifier, ScenarioGenerator, labelled_rows, scenario

from nines.evaluate.labelled import LabelsConfig
from nines.evaluate.labelled_report import labels_report_body, write_labels_report
from nines.evaluate.measure_results import Reliability, ReliabilityPoint, Understanding
from nines.evaluate.report import _reliability_section, _understanding_section
from nines.recipes.labels_eval import LabelsEvaluateConfig, evaluate_labels
from nines.tasks import SAFETEXT, TaskConfig


@pytest.fixture(scope="module")
def safetext_eval(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``nines evaluate --labels`` on a labels file written with SafeText's names (unsafe / safe)."""
    sc = scenario()
    rows = labelled_rows(sc, 1500, seed=3)
    path = Path(tmp_path_factory.mktemp("labels")) / "labels.jsonl"
    path.write_text("".join(json.dumps({"prompt_id": r.prompt_id, "prompt": r.prompt, "completion": r.completion,
                                        "label": "unsafe" if r.label else "safe"}) + "\n" for r in rows))
    cfg = LabelsEvaluateConfig(labels=LabelsConfig(samples_per_prompt=4, understanding_continuations=2))
    ev = evaluate_labels(str(path), ScenarioClassifier(sc), ScenarioGenerator(sc), cfg, classifier="clf",
                         positive="unsafe", negative="safe")
    data = {**ev.to_dict(), "task": "safetext"}
    assert data["source"]["failures"] == sum(r.label for r in rows)  # 'unsafe' read as the positive class
    return data


def test_the_labels_report_says_the_tasks_names(safetext_eval: dict, tmp_path: Path) -> None:
    html = write_labels_report(tmp_path / "report.html", safetext_eval, SAFETEXT).read_text()
    assert "failures labelled unsafe" in html and "<code>p_unsafe</code>" in html
    assert "Task <code>safetext</code>" in html and "injurious" not in html


def test_the_labels_report_reads_a_built_in_task_from_the_summary(safetext_eval: dict) -> None:
    assert "labelled <b>unsafe</b>" in labels_report_body(safetext_eval)  # from summary["task"]
    injury = labels_report_body({**safetext_eval, "task": "injury"})
    assert "labelled <b>injurious</b>" in injury and "<code>p_injury</code>" in injury


def _rel() -> Reliability:
    at = ReliabilityPoint(threshold=0.5, estimate=0.01, lower=0.0, upper=0.03, n=100, n_accepted=90,
                          effective_sample_size=80.0)
    return Reliability(n_prompts=100, samples_per_prompt=4, n_labels=100, n_failures_unfiltered=7, method="ratio",
                       thresholds=[0.5], estimate=[0.01], lower=[0.0], upper=[0.03], acceptance=[0.9],
                       at_threshold=at, pooled_at_threshold={"estimate": 0.01, "lower": 0.0, "upper": 0.03},
                       condition="default")


def _und() -> Understanding:
    return Understanding(n_failures=1, egregious=0, subtle=1, threshold=0.5, continuations=4, generator="gen",
                         examples=[{"egregious": False, "rate": 0.25, "prompt": "To clean a pan,",
                                    "completion": "mix bleach"}])


def test_the_run_report_sections_say_the_tasks_names() -> None:
    st = _reliability_section(_rel(), 0.5, None, SAFETEXT)
    assert "(7 unsafe;" in st and "injurious" not in st
    assert "(7 injurious;" in _reliability_section(_rel(), 0.5, None, TaskConfig())
    und = _understanding_section(_und(), SAFETEXT)
    assert "(unsafe, yet accepted)" in und and "the failure holds" in und
    assert "the injury happened" in _understanding_section(_und(), TaskConfig())
