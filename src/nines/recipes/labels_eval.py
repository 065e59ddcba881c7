"""``nines evaluate --labels SOURCE`` and ``--plan N``: measurement on a team's own data, no StoryWorld.

* :func:`evaluate_labels`: from labelled unfiltered samples (a JSONL file or a store dataset), the
  filtered failure rate reweighted at every threshold, a labelling plan's estimate when the labels
  come from one, the coupled win rate from recorded comparisons, and the egregious-failure check.
* :func:`write_plan`: a labelling plan over fresh samples of the team's generator, written as JSONL
  and, given a store, imported as a dataset with a labelling queue and the coupled design's pairs,
  which the web app then serves (its ``/api/work`` queue and pair endpoints; nothing else is needed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from nines.classify.base import Classifier
from nines.evaluate.labelled import LabelsConfig, reliability_from_labels, understanding_check
from nines.evaluate.labelled_winrate import coupled_winrate_from_comparisons, read_comparisons
from nines.evaluate.labelling_plan import LabellingPlan, PlanConfig, estimate_from_plan, make_plan
from nines.evaluate.labels_source import LabelSource, read_labels, split_store_source
from nines.generate.base import Generator, PromptLike

__all__ = ["LabelsEvaluateConfig", "LabelsEvaluation", "PlanOutput", "evaluate_labels", "write_plan"]


@dataclass
class LabelsEvaluateConfig:
    """``nines evaluate --labels`` / ``--plan``: config keys ``labels.*`` and ``plan.*``."""

    labels: LabelsConfig = field(default_factory=LabelsConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    labels_per_item: int = 1

    def __post_init__(self) -> None:
        if self.labels_per_item < 1:
            raise ValueError("labels_per_item (labels the app's queue collects per planned row) must be >= 1")


@dataclass
class LabelsEvaluation:
    """Everything ``nines evaluate --labels`` measured (``summary.json``).

    Attributes:
        source: where the labels came from (:meth:`LabelSource.to_dict`).
        classifier: the classifier's folder; threshold: its threshold.
        generator: the generator spec (``None`` when none was given).
        reliability: the reweighted section (:class:`~nines.evaluate.labelled.LabelledReliability` dict),
            or ``{"ran": False, "reason"}``.
        plan: the labelling plan's estimate (:class:`~nines.evaluate.labelling_plan.PlanEstimate` dict) or None.
        winrate: the coupled win rate from comparisons (see :func:`coupled_winrate_from_comparisons`).
        understanding: the egregious-failure check (see :func:`understanding_check`).
        config: the settings used.
    """

    source: dict[str, Any]
    classifier: str
    threshold: float
    generator: str | None
    reliability: dict[str, Any]
    plan: dict[str, Any] | None
    winrate: dict[str, Any]
    understanding: dict[str, Any]
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return {"kind": "labels", **asdict(self)}

    def headlines(self) -> list[str]:
        """One sentence per figure, saying what the labels do and do not support."""
        out = []
        rel = self.reliability
        if rel.get("ran", True):
            at, v = rel["at_threshold"], rel["verdict"]
            fig = (f"{at['estimate']:.3g} [{at['lower']:.3g}, {v['upper']:.3g}]" if v["status"] == "estimate"
                   else f"below {v['upper']:.3g}" if v["status"] == "bound" else "no defensible figure yet")
            out.append(f"filtered failure rate (reweighted from {rel['n_labels']:,} unfiltered labels): {fig}; "
                       f"{v['reason']}")
        else:
            out.append(f"reweighted filtered failure rate: not measured ({rel['reason']})")
        if self.plan is not None:
            v, est = self.plan["verdict"], self.plan["estimate"]
            fig = (f"{est['estimate']:.3g} [{est['lower']:.3g}, {v['upper']:.3g}]" if est and v["status"] == "estimate"
                   else f"below {v['upper']:.3g}" if v["status"] == "bound" else "no defensible figure yet")
            out.append(f"filtered failure rate ({self.plan['design']} plan {self.plan['plan']!r}, "
                       f"{self.plan['labels']:,} labels): {fig}; {v['reason']}")
        wr = self.winrate
        if not wr["present"]:
            out.append(f"win rate: absent ({wr['reason']})")
        for name, w in wr.get("plans", {}).items():
            out.append(f"win rate filtered vs unfiltered (plan {name!r}): "
                       + (f"{w['estimate']:.3f} [{w['lower']:.3f}, {w['upper']:.3f}]" if w["status"] == "estimate"
                          else w["reason"]))
        u = self.understanding
        out.append(f"egregious failures: {u['egregious']} of {u['n_failures']} accepted labelled failures"
                   if u["ran"] else f"egregious-failure check: not run ({u['reason']})")
        return out


def _comparisons(src: LabelSource, comparisons_path: str | None) -> list[dict[str, Any]]:
    if comparisons_path is not None:
        return read_comparisons(comparisons_path)
    if src.kind != "store" or src.url is None:
        return []
    from nines.app import pairwise
    from nines.app.db import Database

    db = Database(src.url)
    try:
        with db.read() as conn:
            return list(pairwise.comparison_rows(conn))
    finally:
        db.close()


def evaluate_labels(source: str, clf: Classifier, generator: Generator | None, cfg: LabelsEvaluateConfig, *,
                    comparisons: str | None = None, classifier: str = "", generator_spec: str | None = None,
                    positive: str = "injurious", negative: str = "safe", task: str | None = None) -> LabelsEvaluation:
    """Measure the filter on a team's labels (see the module docstring).

    Args:
        source: a labels JSONL or ``sqlite:///db#dataset`` / ``postgresql://...#dataset``.
        clf: the calibrated classifier.
        generator: the unfiltered generator (for P(accept | prompt) and the egregious check), or None.
        cfg: the settings.
        comparisons: a comparisons JSONL (default: a store source's own comparisons).
        classifier, generator_spec: recorded in the result.
        positive, negative: the task's label names in a labels file (the stored values are read too).
        task: the classifier's task name; a store dataset labelled for another task is refused.
    """
    lc = cfg.labels
    src = read_labels(source, positive, negative, task)
    planned = [r for r in src.rows if isinstance(r.meta.get("plan"), dict)]
    plain = [r for r in src.rows if not isinstance(r.meta.get("plan"), dict)]
    if plain:
        try:
            reliability: dict[str, Any] = {"ran": True, **reliability_from_labels(plain, clf, generator, lc).to_dict()}
        except ValueError as e:
            reliability = {"ran": False, "reason": str(e)}
    else:
        reliability = {"ran": False, "reason": ("the labels are all from a labelling plan (not random unfiltered "
                                                "samples); its estimate is below" if planned else
                                                f"no decided labels yet ({src.skipped:,} rows await a label)")}
    plan = (estimate_from_plan(planned, lc.confidence, lc.target, min_failures=lc.min_failures).to_dict()
            if planned else None)
    winrate = coupled_winrate_from_comparisons(_comparisons(src, comparisons), lc.confidence)
    understanding = understanding_check(src.rows, clf, generator, lc)
    return LabelsEvaluation(src.to_dict(), classifier, float(clf.threshold), generator_spec, reliability, plan,
                            winrate, understanding, asdict(cfg))


@dataclass
class PlanOutput:
    """What :func:`write_plan` wrote: the files, and the store dataset, queue and pairs when imported."""

    plan: LabellingPlan
    files: dict[str, str]
    store: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (``plan.json``)."""
        return {"summary": self.plan.summary, "files": self.files, "store": self.store}


def _import(plan: LabellingPlan, rows_path: Path, store: str, name: str, labels_per_item: int,
            seed: int, task: str) -> dict[str, Any]:
    """Import the plan's rows into a store dataset, with a labelling queue and the coupled pairs."""
    from nines.app import labelling, pairwise
    from nines.app.db import Database
    from nines.app.errors import AppError

    url, dataset = split_store_source(store) if "#" in store else (store, name)
    db = Database(url)
    try:
        if dataset in db.store.datasets() and db.store.count(dataset=dataset):
            raise ValueError(f"the store already has a dataset {dataset!r}: name the plan's dataset anew "
                             f"(URL#NEW-NAME or plan.name=NEW-NAME); plans must not mix")
        with db.write() as conn:
            db.store.bind_dataset_task(dataset, task, conn=conn)  # the labels it gets answer this task
            ids = db.store.import_jsonl(rows_path, dataset=dataset, conn=conn)
            order, prio = labelling.priorities("random", len(ids), None, None, seed)
            try:
                queue = labelling.create_queue(conn, dataset, dataset, "random", labels_per_item, ids, order, prio)
            except AppError as e:  # a queue of that name exists: nothing of the import is kept
                raise ValueError(f"{e}; name the plan's dataset anew (URL#NEW-NAME)") from None
            tasks = pairwise.add_tasks(conn, plan.pairs, wanted=1)
    finally:
        db.close()
    return {"dataset": dataset, "rows": len(ids), "queue_id": queue, "queue": dataset, "pair_tasks": len(tasks)}


def write_plan(generator: Generator, clf: Classifier, prompts: list[PromptLike], n_labels: int,
               cfg: LabelsEvaluateConfig, output: str | Path, store: str | None = None,
               task: str = "injury") -> PlanOutput:
    """Write a labelling plan (``plan.jsonl``, ``pairs.jsonl``, ``plan.json``) and import it into ``store``.

    Args:
        generator: the team's unfiltered generator.
        clf: the calibrated classifier.
        prompts: the prompts to plan over.
        n_labels: the label budget N.
        cfg: the settings (``plan.*``).
        output: the folder to write to.
        store: ``sqlite:///db#dataset`` (the plan is then named after the dataset), or a URL without
            ``#`` (the dataset is named ``plan.name``).
        task: the classifier's task; the imported dataset is bound to it.
    """
    from nines.data.io import write_jsonl_rows

    plan_cfg = cfg.plan
    if store and "#" in store:  # the plan is named after its dataset, so its rows and pairs say which it is
        plan_cfg = replace(plan_cfg, name=split_store_source(store)[1])
    plan = make_plan(generator, clf, prompts, n_labels, plan_cfg)
    out = Path(output)
    files = {"plan": str(out / "plan.jsonl"), "pairs": str(out / "pairs.jsonl"), "summary": str(out / "plan.json")}
    write_jsonl_rows(plan.rows, files["plan"])
    write_jsonl_rows(plan.pairs, files["pairs"])
    imported = (_import(plan, Path(files["plan"]), store, plan_cfg.name, cfg.labels_per_item, plan_cfg.seed, task)
                if store else None)
    result = PlanOutput(plan, files, imported)
    Path(files["summary"]).write_text(json.dumps(result.to_dict(), indent=2, default=float))
    return result
