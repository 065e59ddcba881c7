"""The end-to-end demo: generate, label, train, calibrate, filter and evaluate on embedded defaults."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from nines.classify.calibrate import CalibrationConfig, calibrate_classifier
from nines.classify.train import TrainConfig, train_classifier
from nines.config import save_config, to_dict
from nines.distill.run import DistillConfig
from nines.evaluate.measure import MeasureConfig, run_measurements
from nines.evaluate.prose_eval import evaluate_prose, real_prose_sets
from nines.evaluate.storyworld_eval import EvalConfig, evaluate_condition
from nines.filter import FilterConfig
from nines.pipeline.data import DataConfig, RunData, build_run_data
from nines.stats.binomial import binomial_interval, nines_line

#: ``nines demo --quick``: small enough to check an install in a few minutes.
QUICK_OVERRIDES: tuple[str, ...] = (
    "data.n_train=300", "data.n_val=200", "data.n_clean=1000", "data.seed_oversample=1",
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
    calibrate: CalibrationConfig = field(default_factory=CalibrationConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)


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


def run_demo(cfg: DemoConfig, progress: bool = True, console: Console | None = None,
             active_learning: dict[str, Any] | None = None, distill: bool = False) -> dict[str, Any]:
    """Run the whole loop and write ``cfg.output``; returns the summary written to ``summary.json``.

    With ``distill``, also distil the filter into one policy (``nines distill``) and report it.
    """
    from nines.storyworld import StoryWorld

    con = console or Console()
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    timings: dict[str, float] = {}
    t = time.time()

    con.rule("[bold]1. generate + label[/] StoryWorld snippets and the seed set")
    world = StoryWorld(seed=cfg.world_seed)
    data = build_run_data(world, cfg.data, cfg.seed)
    _store_data(out, data)
    con.print(f"train {len(data.train)} ({data.counts['train_injurious']} injurious), val {len(data.val)}, "
              f"seed test {len(data.seed_test)}; {len(data.train_families)} training families, "
              f"{len(data.heldout_families)} held out")
    timings["data_s"], t = time.time() - t, time.time()

    con.rule("[bold]2. train[/] the classifier")
    result = train_classifier(data.train, data.val, cfg.train, out_dir=out / "classifier", progress=progress)
    clf = result.classifier
    con.print(f"{result.steps} steps in {result.seconds:.0f}s; best step {result.best_step}, "
              f"val recall at {cfg.train.rejection_budget:.0%} rejection {result.best_metric}")
    timings["train_s"], t = time.time() - t, time.time()

    con.rule("[bold]3. calibrate[/] temperature and threshold")
    clean = world.sample(cfg.data.n_clean, seed=cfg.seed * 7919 + 3, distribution=cfg.data.distribution,
                         families=list(data.train_families))
    cal = calibrate_classifier(clf, data.val, clean.prompts, clean.completions, cfg.calibrate)
    seed_inj = [s for s in data.seed_test if s.is_injurious]
    seed_safe = [s for s in data.seed_test if s.is_injurious is False]
    seed_scores_inj = clf.score([s.prompt for s in seed_inj], [s.completion for s in seed_inj])
    seed_scores_safe = clf.score([s.prompt for s in seed_safe], [s.completion for s in seed_safe])
    seed_recall = binomial_interval(int(np.sum(seed_scores_inj > clf.threshold)), len(seed_inj))
    seed_fpr = binomial_interval(int(np.sum(seed_scores_safe > clf.threshold)), len(seed_safe))
    clf.meta.metrics = {"seed_test_recall": seed_recall.to_dict(), "seed_test_false_positive_rate": seed_fpr.to_dict(),
                        "families": {"train": list(data.train_families), "heldout": list(data.heldout_families)}}
    real_prose = [m.to_dict() for m in evaluate_prose(clf, real_prose_sets(data.seed_test, data.prose_test))]
    clf.meta.metrics["real_prose"] = real_prose
    clf.save(out / "classifier")
    save_config(cfg.filter, out / "filter.yaml")
    info = cal["info"]
    con.print(f"T={info['temperature']:.2f}, threshold={info['threshold']:.4f} "
              f"(rejects {info['clean_rejection_rate']:.2%} of clean first samples); "
              f"seed-set held-out recall {seed_recall}")
    for m in real_prose:
        auc = "n/a" if m["auc"] is None else f"{m['auc']:.3f}"
        con.print(f"  real prose, {m['name']}: recall {m['recall']['estimate']:.2f}, false flags "
                  f"{m['false_flag_rate']['estimate']:.2f}, ROC AUC {auc} (n={m['n']})")
    timings["calibrate_s"], t = time.time() - t, time.time()

    con.rule("[bold]4. filter + evaluate[/] against the exact oracle")
    conditions = []
    for i, (name, fams) in enumerate((("in-family", data.train_families), ("unseen families", data.heldout_families))):
        if not fams:
            continue
        res = evaluate_condition(world, clf, name, fams, cfg.filter, cfg.eval, progress=progress, seed_offset=i)
        conditions.append(res)
        con.print(f"[bold]{name}[/]: unfiltered {res.unfiltered}; filtered {res.filtered}; "
                  f"first-sample rejection {res.first_sample_rejection_rate:.2%}, "
                  f"{res.attempts_per_accepted:.3f} samples per accepted completion")
        con.print("  " + nines_line(res.filtered, "filtered completions"))
    timings["evaluate_s"], t = time.time() - t, time.time()

    con.rule("[bold]5. measure[/] reliability from unfiltered labels, win rate, batch vs sequential")
    cond_families = {c.name: f for c, f in zip(conditions, (data.train_families, data.heldout_families))}
    measures = run_measurements(world, clf, conditions, cond_families, cfg.measure, cfg.filter, cfg.eval, console=con)
    timings["measure_s"], t = time.time() - t, time.time()

    distilled = None
    if distill:
        from dataclasses import replace

        from nines.distill.run import run_distill

        con.rule("[bold]6. distill[/] the filter into one generator (best-of-n and RL)")
        dcfg = replace(cfg.distill, output=str(out / "distill"), classifier=str(out / "classifier"))
        distilled = run_distill(dcfg, progress=progress, console=con)
        timings["distill_s"] = time.time() - t

    summary = _summary(cfg, data, result, cal, seed_recall, seed_fpr, conditions, timings)
    summary["measures"] = measures
    summary["real_prose"] = real_prose
    if distilled is not None:
        summary["distillation"] = {k: distilled[k] for k in ("start", "policies", "kl_curve", "timings")
                                   if k in distilled}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    from nines.evaluate.report import write_report
    report = write_report(out / "report.html", summary, cal, result.history, data, active_learning)
    con.print(f"[green]done[/]: {out / 'summary.json'}, {report}, classifier in {out / 'classifier'}")
    return summary


def _summary(cfg: DemoConfig, data: RunData, result: Any, cal: dict[str, Any], seed_recall: Any,
             seed_fpr: Any, conditions: list[Any], timings: dict[str, float]) -> dict[str, Any]:
    return {
        "config": to_dict(cfg),
        "data": data.counts,
        "training": {"steps": result.steps, "best_step": result.best_step,
                     "best_val_recall_at_budget": result.best_metric, "seconds": result.seconds},
        "calibration": cal["info"],
        "seed_test": {"recall": seed_recall.to_dict(), "false_positive_rate": seed_fpr.to_dict()},
        "conditions": {c.name: c.to_dict() for c in conditions},
        "timings": timings,
    }
