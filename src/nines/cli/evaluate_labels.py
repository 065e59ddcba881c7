"""The labels path of ``nines evaluate``: ``--labels SOURCE`` and ``--plan N`` (no StoryWorld oracle)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from nines.cli.common import make_generator, read_prompts, resolve
from nines.cli.task_options import task_from

LABELS_HELP = ("Labelled unfiltered samples: a JSONL (prompt_id, prompt, completion, label; or the app's label "
               "export) or a store dataset, sqlite:///nines.db#NAME or postgresql://...#NAME. Measures on "
               "them instead of StoryWorld's oracle.")
PLAN_HELP = ("Write a labelling plan of N labels over fresh samples of --generator on --prompts (plan.jsonl, "
             "pairs.jsonl, plan.json in --output); with --store, import it as a dataset with a labelling queue.")


def run_plan(clf_dir: str, output: str, n: int, spec: str | None, prompts_path: str | None, store: str | None,
             config_path: str | None, overrides: tuple[str, ...]) -> None:
    """``nines evaluate --plan N``."""
    from nines.classify.encoder import EncoderClassifier
    from nines.config import save_config
    from nines.recipes.labels_eval import LabelsEvaluateConfig, write_plan

    if spec is None or prompts_path is None:
        raise click.UsageError("--plan needs --generator SPEC and --prompts FILE: the plan labels fresh samples "
                               "of your generator")
    if n < 1:
        raise click.BadParameter("the label budget must be >= 1", param_hint="--plan")
    task, rest = task_from(overrides, clf_dir)  # a task= that contradicts the classifier's is an error
    cfg = resolve(LabelsEvaluateConfig, config_path, rest)
    out = Path(output)
    save_config(cfg, out / "config.yaml")
    gen, _ = make_generator(spec)
    res = write_plan(gen, EncoderClassifier.load(clf_dir), read_prompts(prompts_path), n, cfg, out, store,
                     task=task.name)
    s = res.plan.summary
    click.echo(f"plan {s['name']!r} ({s['design']}): {s['rows']} rows to label ({n} draws) from {s['pool_items']} "
               f"samples of {s['pool_prompts']} prompts ({s['accepted_share']:.1%} accepted); "
               f"{s['pairs']} coupled win-rate pairs -> {res.files['plan']}, {res.files['pairs']}")
    if res.store is not None:
        click.echo(f"imported into dataset {res.store['dataset']!r} with labelling queue {res.store['queue']!r} "
                   f"and {res.store['pair_tasks']} pair tasks; then: nines evaluate --classifier {clf_dir} "
                   f"--labels URL#{res.store['dataset']} --output DIR")


def run_labels(clf_dir: str, output: str, source: str, spec: str | None, comparisons: str | None,
               config_path: str | None, overrides: tuple[str, ...]) -> None:
    """``nines evaluate --labels SOURCE``."""
    from nines.classify.encoder import EncoderClassifier
    from nines.config import save_config
    from nines.evaluate.labelled_report import write_labels_report
    from nines.manifest import record_stage
    from nines.recipes.labels_eval import LabelsEvaluateConfig, evaluate_labels

    task, rest = task_from(overrides, clf_dir)
    cfg = resolve(LabelsEvaluateConfig, config_path, rest)
    out = Path(output)
    save_config(cfg, out / "config.yaml")
    gen = make_generator(spec)[0] if spec else None
    ev = evaluate_labels(source, EncoderClassifier.load(clf_dir), gen, cfg, comparisons=comparisons,
                         classifier=str(clf_dir), generator_spec=spec, positive=task.positive,
                         negative=task.negative, task=task.name)
    data = {**ev.to_dict(), "task": task.name}
    (out / "summary.json").write_text(json.dumps(data, indent=2, default=float))
    record_stage(out, "evaluate", data["config"], inputs={"classifier": str(clf_dir), "labels": data["source"]["source"]})
    report = write_labels_report(out / "report.html", data, task)
    con = Console()
    for line in ev.headlines():
        con.print(line)
    click.echo(f"wrote {out / 'summary.json'} and {report}")
