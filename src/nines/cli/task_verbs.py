"""``nines measure``: a calibrated filter on held-out prompts against the generator's exact oracle.

It works for any task whose generator knows the truth (``safetext``, ``storyworld``); with human
labels instead of an exact oracle, use ``nines evaluate --labels``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from nines.cli.common import config_options, make_generator, read_prompts, resolve, user_errors
from nines.cli.task_options import own_prompts, task_from
from nines.filter import FilterConfig
from nines.recipes.heldout import HeldOutConfig


@dataclass
class MeasureRunConfig:
    """``nines measure``'s config: ``heldout.*`` (sampling, intervals) and ``filter.*`` (the filter measured)."""

    heldout: HeldOutConfig = field(default_factory=HeldOutConfig)
    filter: FilterConfig = field(default_factory=lambda: FilterConfig(seed=0))


def _oracle_of(gen: Any, world: Any, spec: str) -> Any:
    if world is not None:
        return world.oracle()
    fn = getattr(gen, "oracle", None)
    if not callable(fn):
        raise click.UsageError(f"generator {spec!r} has no exact oracle; measure it from human labels "
                               "with `nines evaluate --labels`")
    return fn()


def _filtered_rows(path: str, clf: Any, cfg: FilterConfig) -> list[Any]:
    from nines.data.io import iter_jsonl_rows
    from nines.recipes.heldout import results_from_rows

    rows = []
    for line, row in iter_jsonl_rows(path):
        missing = [k for k in ("prompt", "prompt_id", "accepted", "attempts", "scores", "rule", "threshold_used")
                   if k not in row]
        if missing:
            raise click.ClickException(f"{path}, line {line}: not a `nines filter` output row (no {missing[0]!r})")
        rows.append(row)
    return results_from_rows(rows, cfg.threshold if cfg.threshold is not None else clf.threshold)


@click.command()
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False))
@click.option("--generator", "spec", required=True,
              help="A generator with an exact oracle: safetext[:split=test,...] or storyworld.")
@click.option("--prompts", "prompts_path", type=click.Path(dir_okay=False),
              help="Held-out prompts (JSONL with ids); default: the generator's own (SafeText's split).")
@click.option("--num-prompts", default=200, show_default=True, help="StoryWorld: prompts to sample.")
@click.option("--filtered", "filtered_path", type=click.Path(dir_okay=False),
              help="A `nines filter` output on these prompts to measure instead of filtering here.")
@click.option("--output", type=click.Path(file_okay=False), help="Folder for summary.json and config.yaml.")
@config_options
@user_errors
def measure(clf_dir: str, spec: str, prompts_path: str | None, num_prompts: int, filtered_path: str | None,
            output: str | None, config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Recall, false-flag rate and the filtered failure rate (Clopper-Pearson) on held-out prompts.

    Unfiltered samples of the held-out prompts are labelled by the generator's exact oracle and
    scored: the unfiltered failure rate, recall and false-flag rate at the classifier's threshold.
    Then the filter's returned completions are labelled by (prompt id, completion): the filtered
    failure rate with its interval. Config keys: heldout.samples_per_prompt, heldout.confidence,
    heldout.seed, filter.* (as `nines filter`), task=.

    \b
    Example:
      nines measure --classifier st/classifier --generator safetext:split=test --output st/measure
      nines measure --classifier st/classifier --generator safetext:split=test --filtered st/filtered.jsonl
    """
    from nines.classify.encoder import EncoderClassifier
    from nines.config import save_config, to_dict
    from nines.recipes.heldout import measure_heldout

    task, rest = task_from(overrides, clf_dir)
    cfg = resolve(MeasureRunConfig, config_path, rest)
    gen, world = make_generator(spec)
    if world is not None:
        prompts = list(world.sample_prompts(num_prompts, seed=cfg.heldout.seed))
    elif prompts_path:
        prompts = read_prompts(prompts_path)
    else:
        prompts = own_prompts(gen) or []
        if not prompts:
            raise click.UsageError(f"--prompts FILE is required for {spec!r}")
    clf = EncoderClassifier.load(clf_dir)
    filtered = _filtered_rows(filtered_path, clf, cfg.filter) if filtered_path else None
    res = measure_heldout(gen, clf, _oracle_of(gen, world, spec), prompts, cfg.filter, cfg.heldout, task=task,
                          filtered=filtered, progress=True)
    for line in res.lines():
        click.echo(line)
    if output:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        summary = {"task": task.to_dict(), "classifier": clf_dir, "generator": spec, "filtered": filtered_path,
                   "config": to_dict(cfg), "heldout": res.to_dict()}
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
        save_config(cfg, out / "config.yaml")
        click.echo(f"-> {out / 'summary.json'}")
