"""CLI verbs that build and use the classifier: train, calibrate, filter."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from nines.classify.pools import CleanPool
from nines.cli.common import config_options, make_generator, read_prompts, resolve, user_errors, write_rows
from nines.cli.scale_options import ray_config, ray_options
from nines.cli.task_options import own_prompts, read_labelled, save_task, task_from
from nines.scale.shards import DEFAULT_SHARD_SIZE


@click.command()
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False), help="Labelled training JSONL.")
@click.option("--val", "val_path", type=click.Path(dir_okay=False), help="Labelled validation JSONL (early stopping).")
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for the classifier.")
@click.option("--no-resume", is_flag=True, help="Start over even if a checkpoint from a killed run is there.")
@config_options
@user_errors
def train(data_path: str, val_path: str | None, output: str, no_resume: bool, config_path: str | None,
          overrides: tuple[str, ...]) -> None:
    """Fine-tune the classifier for a task (default injury) on labelled snippets.

    task=NAME|FILE picks the predicate (injury, safetext or a task YAML); it is saved in the
    classifier's manifest, and the data's labels may use the task's names (e.g. unsafe/safe).
    A killed run continues from its last checkpoint when started again with the same --output.
    Under `accelerate launch` with several processes it trains data-parallel (same global batch
    per step); only the main process writes.

    \b
    Example:
      nines train --data train.jsonl --val val.jsonl --output runs/x/classifier epochs=3 lr=3e-5
      nines train --data st/train.jsonl --output st/classifier task=safetext
      accelerate launch --cpu --num_processes 2 -m nines train --data train.jsonl --output runs/x/classifier
    """
    from nines.classify.train import TrainConfig
    from nines.config import save_config
    from nines.recipes.train import train as train_recipe
    from nines.scale.accel import is_main_process

    task, rest = task_from(overrides)
    cfg = resolve(TrainConfig, config_path, rest)
    if is_main_process():
        save_config(cfg, Path(output) / "train_config.yaml")
    result = train_recipe(read_labelled(data_path, task), read_labelled(val_path, task) if val_path else [], cfg,
                          output, resume=not no_resume, inputs={"data": data_path, "val": val_path or ""})
    if not result.main_process:
        return
    result.classifier.save(output)
    save_task(output, task)
    click.echo(f"trained {result.steps} steps in {result.seconds:.0f}s"
               + (f" (resumed from step {result.resumed_from})" if result.resumed_from else "")
               + f"; best val recall at budget {result.best_metric}; saved to {output}")


@click.command()
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False))
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="Held-out labelled JSONL (temperature, recall).")
@click.option("--clean", "clean_path", type=click.Path(dir_okay=False),
              help="Unlabelled first samples on the clean prompt distribution (JSONL); default: StoryWorld "
                   "samples (injury task only).")
@click.option("--clean-n", default=4000, show_default=True, help="StoryWorld clean samples when --clean is not given.")
@click.option("--pool", "pools", multiple=True,
              help="Another clean pool, SOURCE[@BUDGET]: 'prose' (the real-prose corpus's held-out calibration batches) or a JSONL of "
                   "prompt/completion first samples (or of prompts, with --pool-generator). Repeatable; "
                   "the threshold keeps every pool within its budget.")
@click.option("--pool-generator", "pool_spec", default=None,
              help="Generator spec that writes first samples for pool rows that have only a prompt.")
@config_options
@user_errors
def calibrate(clf_dir: str, data_path: str, clean_path: str | None, clean_n: int, pools: tuple[str, ...],
              pool_spec: str | None, config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Fit the temperature and choose the threshold; updates the classifier's nines.json.

    \b
    Example:
      nines calibrate --classifier runs/x/classifier --data val.jsonl rule=rejection_budget rejection_budget=0.05
      nines calibrate --classifier runs/x/classifier --data val.jsonl --pool prose@0.2 --pool mine.jsonl@0.05
      nines calibrate --classifier st/classifier --data st/cal.jsonl --clean st/cal_gen.jsonl rejection_budget=0.3
    """
    from nines.classify.calibrate import CalibrationConfig
    from nines.classify.encoder import EncoderClassifier
    from nines.classify.pools import resolve_pools
    from nines.classify.train import data_fingerprint
    from nines.config import save_config, to_dict
    from nines.manifest import record_stage
    from nines.recipes.calibrate import calibrate as calibrate_recipe
    from nines.recipes.calibrate import pairs_fingerprint

    task, rest = task_from(overrides, clf_dir)
    cfg = resolve(CalibrationConfig, config_path, rest)
    if clean_path is None and task.name != "injury":
        raise click.UsageError(f"task {task.name!r} needs --clean FILE: first samples of your generator on "
                               "calibration prompts (the default clean pool is StoryWorld's, for injury)")
    if pools:
        cfg = replace(cfg, pools=[*cfg.pools, *pools])
    clf = EncoderClassifier.load(clf_dir)
    clean, clean_source = _clean_pool(clf_dir, clf, clean_path, clean_n)
    gen = None
    if pool_spec:
        from nines.generate.registry import load_generator

        gen = load_generator(pool_spec)
    val = read_labelled(data_path, task)
    cal = calibrate_recipe(clf, val, clean, cfg, pools=resolve_pools(cfg.pools, gen))
    clf.save(clf_dir)
    save_config(cfg, Path(clf_dir) / "calibration_config.yaml")
    record_stage(clf_dir, "calibrate", {**to_dict(cfg), "clean": clean_source}, inputs={"calibration_data": data_path},
                 fingerprints={"calibration_data": data_fingerprint(val),
                               "clean": pairs_fingerprint(clean.prompts, clean.completions)})
    save_task(clf_dir, task)
    click.echo(f"temperature {cal.temperature:.3f}, threshold {cal.threshold:.4g} ({cal.rule}): "
               f"rejects {cal.clean_rejection_rate:.2%} of clean samples, val recall {cal.val_recall}")
    for pool in cal.pools:
        click.echo(f"  pool {pool.name}: {pool.n} samples, rejects {pool.rejection_rate:.2%} "
                   f"(budget {pool.budget:.2%})")


def _clean_pool(clf_dir: str, clf: Any, clean_path: str | None, clean_n: int) -> tuple[CleanPool, dict[str, Any]]:
    """The main clean pool: ``--clean``'s rows, else StoryWorld samples of the classifier's TRAINING families.

    The split comes from the classifier's manifest (or, for classifiers saved before, its
    ``nines.json``); held-out families must not reach the threshold, or the "unseen families"
    condition of ``nines evaluate`` would no longer be unseen.
    """
    from nines.data.io import read_jsonl

    if clean_path:
        rows = read_jsonl(clean_path)
        return CleanPool("clean", [s.prompt for s in rows], [s.completion for s in rows]), {"file": clean_path}
    from nines.manifest import family_split
    from nines.recipes.calibrate import CLI_CLEAN_SEED, storyworld_clean_pool
    from nines.storyworld import StoryWorld

    split = family_split(clf_dir, clf)
    pool = storyworld_clean_pool(StoryWorld(), clean_n, CLI_CLEAN_SEED, split)
    return pool, {"storyworld": clean_n, "seed": CLI_CLEAN_SEED,
                  "families": "all" if split is None else "train"}


@click.command(name="filter")
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False))
@click.option("--generator", "spec", default="storyworld", show_default=True, help="Same specs as `nines generate`.")
@click.option("--prompts", "prompts_path", type=click.Path(dir_okay=False))
@click.option("--num-prompts", default=100, show_default=True, help="StoryWorld: prompts to sample.")
@click.option("--output", required=True, type=click.Path(dir_okay=False))
@click.option("--shard-size", default=DEFAULT_SHARD_SIZE, show_default=True,
              help="Prompts per shard; each shard is filtered on its own with its own seed, so --ray and "
                   "one process give the same output for the same shard size.")
@ray_options
@config_options
@user_errors
def filter_cmd(clf_dir: str, spec: str, prompts_path: str | None, num_prompts: int, output: str, shard_size: int,
               ray_address: str | None, ray_workers: int, config_path: str | None,
               overrides: tuple[str, ...]) -> None:
    """Rejection-sample completions the classifier accepts.

    Config keys: strategy (sequential, batch_first, batch_safest), batch_size, max_attempts,
    threshold, tighten_after, tighten_factor, fallback (refuse, safest), seed.

    With --ray each shard of prompts is filtered inside one Ray worker that loads the generator
    and classifier once; with a seed the output equals the one-process output.

    \b
    Example:
      nines filter --classifier runs/demo/classifier --num-prompts 50 --output out.jsonl strategy=batch_safest batch_size=4
      nines filter --classifier runs/demo/classifier --num-prompts 2000 --output out.jsonl --ray local --shard-size 100 seed=1
      nines filter --classifier st/classifier --generator safetext:split=test --output st/filtered.jsonl seed=0
    """
    from nines.classify.encoder import EncoderClassifier
    from nines.filter import FilterConfig, rejection_stats
    from nines.scale.shards import filter_in_shards, result_row

    task, rest = task_from(overrides, clf_dir)
    cfg = resolve(FilterConfig, config_path, rest)
    ray_cfg = ray_config(ray_address, ray_workers) if ray_address else None
    gen, world = make_generator(spec)
    if world is not None:
        prompts = list(world.sample_prompts(num_prompts, seed=cfg.seed or 0))
    elif prompts_path:
        prompts = read_prompts(prompts_path)
    elif (own := own_prompts(gen)) is not None:
        prompts = own
    else:
        raise click.UsageError(f"--prompts FILE is required for {spec!r}")
    if ray_cfg is not None:
        from nines.scale.ray_batch import FilterJob, ray_filter

        EncoderClassifier.load(clf_dir)  # a bad folder fails here, not inside every worker
        job = FilterJob(clf_dir, spec, cfg)
        results = ray_filter(job, prompts, ray_cfg, shard_size=shard_size)
    else:
        results = filter_in_shards(gen, EncoderClassifier.load(clf_dir), prompts, cfg, shard_size, progress=True)
    write_rows([result_row(r) for r in results], output)
    st = rejection_stats(results)
    click.echo(f"{st.n_accepted}/{st.n_prompts} accepted, {st.n_refused} refused, {st.n_fallback} fallback; "
               f"{st.mean_attempts:.2f} samples per prompt -> {output}")
    if world is not None:
        bad = sum(1 for r in results if r.completion is not None and r.completion_meta.get("injurious"))
        click.echo(f"oracle (StoryWorld's exact label): {bad} injurious completions returned")
    elif any(isinstance(r.completion_meta.get(task.positive), bool) for r in results):
        bad = sum(1 for r in results if r.completion is not None and r.completion_meta.get(task.positive) is True)
        click.echo(f"oracle (the generator's exact label): {bad} {task.positive} completions returned")
