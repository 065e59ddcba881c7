"""CLI verbs that run whole stages: evaluate, demo."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console

from nines.cli.common import config_options, resolve, user_errors
from nines.cli.evaluate_labels import LABELS_HELP, PLAN_HELP, run_labels, run_plan
from nines.evaluate.measure import MeasureConfig
from nines.evaluate.storyworld_eval import EvalConfig
from nines.filter import FilterConfig


@dataclass
class EvaluateConfig:
    """``nines evaluate``: the evaluation settings and the filter being evaluated."""

    eval: EvalConfig = field(default_factory=EvalConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    measurements: bool = True


def _read_active_learning(path: str | None) -> dict | None:
    if path is None:
        return None
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise click.BadParameter(f"{p}: {e}; write it with `python benchmarks/active_learning.py --out {p}`",
                                 param_hint="--active-learning") from None
    if not isinstance(data, dict) or "curves" not in data:
        raise click.BadParameter(f"{p} has no learning curves; write it with benchmarks/active_learning.py",
                                 param_hint="--active-learning")
    return data


AL_HELP = "JSON from `benchmarks/active_learning.py --out FILE`: adds the active-learning curves to the report."


@click.command()
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False))
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for summary.json and report.html.")
@click.option("--active-learning", "al_path", type=click.Path(dir_okay=False), help=AL_HELP)
@click.option("--labels", "labels_source", default=None, help=LABELS_HELP)
@click.option("--plan", "plan_n", type=int, default=None, help=PLAN_HELP)
@click.option("--generator", "spec", default=None,
              help="Your generator (hf:, openai:, llama2c:, storyworld): --labels resamples it to estimate "
                   "P(accept | prompt) and continues failures; --plan samples it.")
@click.option("--prompts", "prompts_path", type=click.Path(dir_okay=False), help="Prompts to plan over (--plan).")
@click.option("--store", "store", default=None, help="--plan: import the plan into this store, sqlite:///nines.db#NAME.")
@click.option("--comparisons", "comparisons", type=click.Path(dir_okay=False), default=None,
              help="--labels: pairwise comparisons JSONL (the app's export); a store SOURCE's own are read by default.")
@config_options
@user_errors
def evaluate(clf_dir: str, output: str, al_path: str | None, labels_source: str | None, plan_n: int | None,
             spec: str | None, prompts_path: str | None, store: str | None, comparisons: str | None,
             config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Measure unfiltered vs filtered failure rates against StoryWorld's exact oracle, or on your own labels.

    Conditions: the realisation families the classifier was trained on, and the held-out ones
    (read from the classifier's manifest.json, which `nines demo` writes), each with exact bounds.
    Then the measurements: the filtered failure rate at every threshold reweighted from one set of
    unfiltered labels, the win rate of filtered vs unfiltered, batch-safest vs sequential, and
    whether the generator understands its failures (`measurements=false` skips them).

    With --labels SOURCE no StoryWorld is involved: the filtered failure rate is reweighted from your
    labelled unfiltered samples (config keys labels.*), a labelling plan's labels use its inclusion
    probabilities, recorded comparisons give the coupled win rate, and where the labels are too few
    the report says how many more are needed for labels.target. --plan N writes such a plan (plan.*).

    \b
    Example:
      nines evaluate --classifier runs/demo/classifier --output runs/eval eval.n_prompts=5000 filter.strategy=batch_safest
      nines evaluate --classifier clf --labels labelled.jsonl --generator hf:./my-model --output runs/mine
      nines evaluate --classifier clf --plan 400 --generator hf:./my-model --prompts prompts.txt \\
          --store sqlite:///nines.db#plan1 --output runs/plan1
      nines evaluate --classifier clf --labels sqlite:///nines.db#plan1 --output runs/plan1-eval labels.target=0.001
    """
    if labels_source is not None or plan_n is not None:
        if labels_source is not None and plan_n is not None:
            raise click.UsageError("give --labels SOURCE or --plan N, not both: plan first, label, then evaluate")
        if al_path is not None:
            raise click.UsageError("--active-learning belongs to the StoryWorld evaluation; drop it with --labels/--plan")
        if plan_n is not None:
            run_plan(clf_dir, output, plan_n, spec, prompts_path, store, config_path, overrides)
        else:
            run_labels(clf_dir, output, str(labels_source), spec, comparisons, config_path, overrides)
        return
    if spec or prompts_path or store or comparisons:
        raise click.UsageError("--generator, --prompts, --store and --comparisons go with --labels or --plan")
    from nines.classify.encoder import EncoderClassifier
    from nines.config import save_config, to_dict
    from nines.evaluate.report import write_eval_report
    from nines.manifest import family_split, record_stage
    from nines.recipes.evaluate import evaluate as evaluate_recipe
    from nines.storyworld import StoryWorld

    cfg = resolve(EvaluateConfig, config_path, overrides)
    al = _read_active_learning(al_path)
    out = Path(output)
    save_config(cfg, out / "config.yaml")
    clf = EncoderClassifier.load(clf_dir)
    split = family_split(clf_dir, clf)
    ev = evaluate_recipe(StoryWorld(), clf, split, cfg.filter, cfg.eval, cfg.measure if cfg.measurements else None,
                         console=Console(), classifier=str(clf_dir))
    (out / "summary.json").write_text(json.dumps(ev.to_dict(), indent=2, default=float))
    record_stage(out, "evaluate", to_dict(cfg), families=split, inputs={"classifier": str(clf_dir)})
    report = write_eval_report(out / "report.html", ev, al)
    click.echo(f"wrote {out / 'summary.json'} and {report}")


@click.command()
@click.option("--output", default=None, help="Run folder (default runs/demo).")
@click.option("--quick", is_flag=True, help="A much smaller run (a couple of minutes) to check the install.")
@click.option("--active-learning", "al_path", type=click.Path(dir_okay=False), help=AL_HELP)
@click.option("--distill", "with_distill", is_flag=True,
              help="Also distil the filter into one generator (best-of-n and RL; `nines distill`) and add a "
                   "distillation section to the report (about 80 more minutes on 2 CPU cores; about 12 in all with --quick).")
@config_options
@user_errors
def demo(output: str | None, quick: bool, al_path: str | None, with_distill: bool, config_path: str | None,
         overrides: tuple[str, ...]) -> None:
    """The whole loop on embedded defaults: generate, label, train, calibrate, filter, evaluate.

    Writes the classifier, data, summary.json and report.html to runs/demo (about 10 minutes on 2 CPU cores).

    \b
    Example:
      nines demo
      nines demo --output runs/small train.epochs=1 eval.n_prompts=2000
      nines demo --distill distill.rl.beta=0.3
    """
    from nines.recipes.demo import QUICK_DISTILL_OVERRIDES, QUICK_OVERRIDES, DemoConfig, run_demo

    extra = list(QUICK_OVERRIDES) if quick else []
    if quick and with_distill:
        extra += list(QUICK_DISTILL_OVERRIDES)
    cfg = resolve(DemoConfig, config_path, extra + list(overrides), output=output)
    try:
        run_demo(cfg, active_learning=_read_active_learning(al_path), distill=with_distill)
    except ImportError as e:
        raise click.ClickException(str(e)) from None
