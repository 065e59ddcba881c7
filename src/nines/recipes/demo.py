"""The demo recipe: generate, label, train, calibrate, filter and evaluate on embedded defaults.

Each step is a recipe the CLI verbs call too (:mod:`nines.recipes.train`, :mod:`~nines.recipes.calibrate`,
:mod:`~nines.recipes.evaluate`); this module only chains them, prints, and writes the run folder:
``manifest.json`` (split, fingerprints, config, versions), ``summary.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from nines.classify.calibrate import Calibration, CalibrationConfig
from nines.classify.train import TrainConfig, TrainResult, data_fingerprint
from nines.config import save_config, to_dict
from nines.distill.report import distill_section
from nines.evaluate.measure import MeasureConfig
from nines.evaluate.prose_eval import ProseMetrics, evaluate_prose, real_prose_sets
from nines.evaluate.results import Evaluation, RunSummary, SeedTest, TrainingSummary
from nines.evaluate.storyworld_eval import EvalConfig
from nines.filter import FilterConfig
from nines.manifest import FamilySplit, record_stage
from nines.recipes import calibrate as cal_recipe
from nines.recipes import evaluate as eval_recipe
from nines.recipes import train as train_recipe
from nines.recipes.data import DataConfig, RunData, build_run_data
from nines.recipes.distill import DistillConfig

#: ``nines demo --quick``: small enough to check an install in a few minutes.
QUICK_OVERRIDES: tuple[str, ...] = (
    "data.n_train=300", "data.n_val=200", "data.n_clean=1000", "data.seed_oversample=1", "data.prose_fraction=0.25",
    "train.epochs=1", "train.eval_every=10", "eval.n_prompts=1000", "eval.n_unfiltered=20000",
    "measure.winrate_prompts=300", "measure.reliability_prompts=300", "measure.policy_prompts=50",
)

#: ``nines demo --quick --distill``: a distillation small enough to check the install.
QUICK_DISTILL_OVERRIDES: tuple[str, ...] = (
    "distill.sft_pairs=20000", "distill.sft.steps=300", "distill.policy.hidden_size=128",
    "distill.best_of_n.n_prompts=1000", "distill.best_of_n.sft.steps=100", "distill.rl.steps=30",
    "distill.rl.checkpoint_every=10", "distill.rl_prompts=1000", "distill.eval.n_prompts=1000",
    "distill.eval.winrate_prompts=500", "distill.eval.kl_prompts=300", "distill.curve_prompts=200",
)


@dataclass
class DemoConfig:
    """The whole run. Every nested block is the config of one component (see their docs).

    Attributes:
        output: run folder; the classifier, data, report and ``summary.json`` go there.
        seed: master seed (data, training, evaluation prompts are derived from it).
        world_seed: StoryWorld's seed.
        distill: the distillation run of ``nines demo --distill`` (its ``output`` and ``classifier``
            are set to ``OUTPUT/distill`` and the demo's classifier).
    """

    output: str = "runs/demo"
    seed: int = 0
    world_seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # The threshold must also keep the real-prose corpus's held-out safe rows within 20% false flags,
    # so that it means something on real text, not only on StoryWorld's clean prompts.
    calibrate: CalibrationConfig = field(default_factory=lambda: CalibrationConfig(pools=["prose@0.2"]))
    filter: FilterConfig = field(default_factory=FilterConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)


class _Steps:
    """The run folder, console and per-step timings shared by the demo's steps."""

    def __init__(self, cfg: DemoConfig, console: Console, progress: bool) -> None:
        self.cfg, self.con, self.progress = cfg, console, progress
        self.out = Path(cfg.output)
        self.timings: dict[str, float] = {}
        self._t = time.time()

    def done(self, name: str) -> None:
        now = time.time()
        self.timings[f"{name}_s"], self._t = now - self._t, now


def _store_data(out: Path, data: RunData) -> None:
    from nines.data.io import write_jsonl
    from nines.data.store import Store

    with Store(out / "nines.db") as store:
        store.add(data.train, dataset="train")
        store.add(data.val, dataset="val")
        store.add(data.seed_test, dataset="seed_test")
    write_jsonl(data.train, out / "data" / "train.jsonl")
    write_jsonl(data.val, out / "data" / "val.jsonl")
    write_jsonl(data.seed_test, out / "data" / "seed_test.jsonl")


def _data_step(run: _Steps, world: Any) -> RunData:
    run.con.rule("[bold]1. generate + label[/] StoryWorld snippets and the seed set")
    data = build_run_data(world, run.cfg.data, run.cfg.seed)
    _store_data(run.out, data)
    run.con.print(f"train {len(data.train)} ({data.counts['train_injurious']} injurious), val {len(data.val)}, "
                  f"seed test {len(data.seed_test)}; {len(data.train_families)} training families, "
                  f"{len(data.heldout_families)} held out")
    run.done("data")
    return data


def _train_step(run: _Steps, data: RunData, split: FamilySplit) -> TrainResult:
    run.con.rule("[bold]2. train[/] the classifier")
    result = train_recipe.train(data.train, data.val, run.cfg.train, run.out / "classifier",
                                progress=run.progress, families=split)
    run.con.print(f"{result.steps} steps in {result.seconds:.0f}s; best step {result.best_step}, "
                  f"val recall at {run.cfg.train.rejection_budget:.0%} rejection {result.best_metric}")
    run.done("train")
    return result


def _calibrate_step(run: _Steps, world: Any, clf: Any, data: RunData,
                    split: FamilySplit) -> tuple[Calibration, SeedTest, list[ProseMetrics], str]:
    """Temperature and threshold on clean samples of the training families, then the real-prose checks."""
    cfg = run.cfg
    run.con.rule("[bold]3. calibrate[/] temperature and threshold")
    clean = cal_recipe.storyworld_clean_pool(world, cfg.data.n_clean, cfg.seed * 7919 + 3, split,
                                             distribution=cfg.data.distribution)
    cal = cal_recipe.calibrate(clf, data.val, clean, cfg.calibrate)
    seed = cal_recipe.seed_test_rates(clf, data.seed_test)
    clf.meta.metrics = {"seed_test_recall": seed.recall.to_dict(),
                        "seed_test_false_positive_rate": seed.false_positive_rate.to_dict()}
    real_prose = evaluate_prose(clf, real_prose_sets(data.seed_test, data.prose_test))
    clf.meta.metrics["real_prose"] = [m.to_dict() for m in real_prose]
    clf.save(run.out / "classifier")
    save_config(cfg.filter, run.out / "filter.yaml")
    run.con.print(f"T={cal.temperature:.2f}, threshold={cal.threshold:.4f} "
                  f"(rejects {cal.clean_rejection_rate:.2%} of clean first samples); "
                  f"seed-set held-out recall {seed.recall}")
    for m in real_prose:
        auc = "n/a" if m.auc is None else f"{m.auc:.3f}"
        run.con.print(f"  real prose, {m.name}: recall {m.recall.estimate:.2f}, false flags "
                      f"{m.false_flag_rate.estimate:.2f}, ROC AUC {auc} (n={m.n})")
    run.done("calibrate")
    return cal, seed, real_prose, cal_recipe.pairs_fingerprint(clean.prompts, clean.completions)


def _evaluate_steps(run: _Steps, world: Any, clf: Any, split: FamilySplit) -> Evaluation:
    cfg = run.cfg
    run.con.rule("[bold]4. filter + evaluate[/] against the exact oracle")
    # Steps 4 and 5 are one recipe; it times them together, so they are split here for the timings.
    ev = eval_recipe.evaluate(world, clf, split, cfg.filter, cfg.eval, None, progress=run.progress, console=run.con)
    run.done("evaluate")
    run.con.rule("[bold]5. measure[/] reliability from unfiltered labels, win rate, batch vs sequential")
    ev.measures = eval_recipe.measure(world, clf, ev, cfg.measure, cfg.filter, cfg.eval, console=run.con)
    run.done("measure")
    return ev


def _distill_step(run: _Steps) -> dict[str, Any]:
    from nines.recipes.distill import distill

    run.con.rule("[bold]6. distill[/] the filter into one generator (best-of-n and RL)")
    dcfg = replace(run.cfg.distill, output=str(run.out / "distill"), classifier=str(run.out / "classifier"))
    distilled = distill(dcfg, progress=run.progress, console=run.con).to_dict()
    run.done("distill")
    return {k: distilled[k] for k in ("start", "policies", "kl_curve", "timings") if k in distilled}


def run_demo(cfg: DemoConfig, progress: bool = True, console: Console | None = None,
             active_learning: dict[str, Any] | None = None, distill: bool = False) -> RunSummary:
    """Run the whole loop and write ``cfg.output``; returns the summary (``summary.json`` is its ``to_dict()``).

    With ``distill``, also distil the filter into one policy (``nines distill``) and report it.
    """
    from nines.evaluate.report import write_report
    from nines.storyworld import StoryWorld

    run = _Steps(cfg, console or Console(), progress)
    run.out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run.out / "config.yaml")
    world = StoryWorld(seed=cfg.world_seed)
    data = _data_step(run, world)
    split = FamilySplit(data.train_families, data.heldout_families)
    result = _train_step(run, data, split)
    clf = result.classifier
    cal, seed, real_prose, clean_fp = _calibrate_step(run, world, clf, data, split)
    ev = _evaluate_steps(run, world, clf, split)
    distilled = _distill_step(run) if distill else None
    summary = RunSummary(to_dict(cfg), data.counts, TrainingSummary.from_result(result), cal, seed, ev,
                         run.timings, real_prose, result.history, distilled)
    record_stage(run.out, "demo", to_dict(cfg), families=split, classifier="classifier",
                 fingerprints={"train": data_fingerprint(data.train), "val": data_fingerprint(data.val),
                               "seed_test": data_fingerprint(data.seed_test), "clean": clean_fp})
    (run.out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2, default=float))
    report = write_report(run.out / "report.html", summary, active_learning,
                          distill_section(summary.distillation, run.out / "distill"))
    run.con.print(f"[green]done[/]: {run.out / 'summary.json'}, {report}, classifier in {run.out / 'classifier'}")
    return summary
