"""CLI verbs that move data: generate, label, score."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from nines.cli.common import make_generator, read_prompts, user_errors, write_rows
from nines.cli.scale_options import ray_config, ray_options
from nines.cli.task_options import only_task, own_prompts, task_argument
from nines.generate.base import as_prompt, prompt_text

GENERATOR_HELP = ("storyworld (default), hf:<path-or-hub-id>, openai:<base_url>#<model>, "
                  "llama2c:<dir with stories260K.bin and tok512.bin>, or safetext[:split=train,p_unsafe=0.2] "
                  "(brings its own prompts: the split's scenarios)")


def _prompts_for(spec: str, gen: Any, world: Any, prompts_path: str | None, num: int, distribution: str,
                 seed: int) -> list[Any]:
    if world is not None:
        if prompts_path:
            raise click.UsageError("the storyworld generator continues only its own prompts: "
                                   "drop --prompts and use --num-prompts")
        return list(world.sample_prompts(num, seed=seed, distribution=distribution))
    if prompts_path:
        return read_prompts(prompts_path)
    own = own_prompts(gen)
    if own is None:
        raise click.UsageError(f"--prompts FILE is required for {spec!r}")
    return own


@click.command()
@click.option("--generator", "spec", default="storyworld", show_default=True, help=GENERATOR_HELP)
@click.option("--prompts", "prompts_path", type=click.Path(dir_okay=False), help="Prompts: .txt (one per line) or .jsonl with a prompt field.")
@click.option("--num-prompts", default=100, show_default=True, help="StoryWorld: prompts to sample.")
@click.option("--distribution", default="default", show_default=True, help="StoryWorld prompt distribution: default or random_excerpt.")
@click.option("-n", "n", default=1, show_default=True, help="Completions per prompt.")
@click.option("--seed", default=0, show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="JSONL to write.")
@user_errors
def generate(spec: str, prompts_path: str | None, num_prompts: int, distribution: str, n: int, seed: int,
             output: str) -> None:
    """Sample completions for prompts and write them as JSONL.

    \b
    Example:
      nines generate --num-prompts 200 -n 2 --output runs/x/gen.jsonl
      nines generate --generator hf:./my-model --prompts prompts.txt --output gen.jsonl
      nines generate --generator safetext:split=train,p_unsafe=0.5 -n 4 --output st/train_gen.jsonl
    """
    gen, world = make_generator(spec)
    prompts = _prompts_for(spec, gen, world, prompts_path, num_prompts, distribution, seed)
    out = gen.generate(prompts, n=n, seed=seed)
    rows = [{"prompt": prompt_text(p), "prompt_id": as_prompt(p).id, "completion": c.text, "source": "generated",
             "label": None,
             "metadata": {"generator": gen.name, "logprob": c.logprob, **c.meta}}
            for p, cs in zip(prompts, out) for c in cs]
    write_rows(rows, output)
    click.echo(f"wrote {len(rows)} completions for {len(prompts)} prompts to {output}")


@click.command()
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False), help="JSONL of snippets.")
@click.option("--output", type=click.Path(dir_okay=False), help="Labelled JSONL to write.")
@click.option("--labeller", type=click.Choice(["oracle", "simulated"]), default="oracle", show_default=True,
              help="oracle: StoryWorld's exact label; simulated: the oracle with errors (--error-rate).")
@click.option("--error-rate", default=0.05, show_default=True, help="Simulated labeller's error rate.")
@click.option("--seed", default=0, show_default=True)
@click.option("--store", "store_url", help="Also add the labelled snippets to this store (SQLite path or URL).")
@click.option("--dataset", default=None, help="Dataset name inside the store.")
@task_argument
@user_errors
def label(input_path: str, output: str | None, labeller: str, error_rate: float, seed: int,
          store_url: str | None, dataset: str | None, overrides: tuple[str, ...]) -> None:
    """Label snippets with an automated labeller (humans label in the web app).

    StoryWorld rows carry their latent event, so the oracle label is exact; the simulated
    labeller flips it with probability --error-rate, standing in for a human contractor.
    With task=NAME the exact label is metadata.<the task's positive label> (SafeText rows carry
    metadata.unsafe); labels are stored as injurious/safe for the positive/negative class.

    \b
    Example:
      nines label --input runs/x/gen.jsonl --output runs/x/labelled.jsonl --labeller simulated --error-rate 0.03
      nines label --input st/train_gen.jsonl --output st/train.jsonl task=safetext
    """
    from nines.data.io import read_jsonl, write_jsonl
    from nines.data.record import Label

    task = only_task(overrides)
    key = task.positive
    if labeller == "simulated" and key != "injurious":
        raise click.UsageError("the simulated labeller reads StoryWorld's latent event (injury task only); "
                               f"use --labeller oracle for task {task.name!r}")
    snippets = read_jsonl(input_path)
    for i, s in enumerate(snippets, 1):
        if not isinstance(s.metadata.get(key), bool):
            raise click.ClickException(
                f"{input_path}, row {i}: no latent label (metadata.{key}) from an exact generator (StoryWorld, "
                "SafeText); the automated labellers only label such snippets. Label other text by hand in the web app.")
        s.label = Label.INJURIOUS if s.metadata[key] else Label.SAFE
        s.labeller = "oracle"
    if labeller == "simulated":
        from nines.storyworld import SimulatedLabeller

        labels = SimulatedLabeller(error_rate=error_rate, seed=seed).label(snippets)
        for s, lab in zip(snippets, labels):
            s.label, s.labeller = Label(lab), f"simulated@{error_rate}"
    if output:
        write_jsonl(snippets, output)
    if store_url:
        from nines.data.store import Store

        with Store(store_url) as store, store.transaction() as conn:
            if dataset is not None:  # the dataset remembers its task; another task's dataset is refused
                store.bind_dataset_task(dataset, task.name, conn=conn)
            store.add(snippets, dataset=dataset, conn=conn)
    n_inj = sum(1 for s in snippets if s.label is Label.INJURIOUS)
    click.echo(f"labelled {len(snippets)} snippets ({n_inj} {task.positive})"
               + (f" -> {output}" if output else "") + (f" -> {store_url}" if store_url else ""))


@click.command()
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False), help="Classifier folder.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False), help='JSONL rows with "prompt" and "completion".')
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="JSONL to write.")
@click.option("--batch-size", default=64, show_default=True)
@ray_options
@task_argument
@user_errors
def score(clf_dir: str, input_path: str, output: str, batch_size: int, ray_address: str | None,
          ray_workers: int, overrides: tuple[str, ...]) -> None:
    """Score every row: adds p_injury (calibrated) and flagged (the filter would reject it).

    The score field is the task's (p_injury for injury, p_unsafe for safetext): the task recorded
    with the classifier at `nines train`, or task=NAME|FILE.

    With --ray the rows are scored by Ray Data workers, each loading the classifier once; the
    output is the same rows in the same order with the same scores (to about 1e-7).

    \b
    Example:
      nines score --classifier runs/demo/classifier --input in.jsonl --output out.jsonl
      nines score --classifier runs/demo/classifier --input big.jsonl --output out.jsonl --ray local --ray-workers 2
    """
    from nines.classify.encoder import EncoderClassifier
    from nines.data.io import iter_jsonl_rows

    ray_cfg = ray_config(ray_address, ray_workers, batch_size) if ray_address else None
    field = only_task(overrides, clf_dir).score_field
    rows = []
    for line, row in iter_jsonl_rows(input_path):
        for key in ("prompt", "completion"):
            if not isinstance(row.get(key), str):
                raise click.ClickException(f'{input_path}, line {line}, field "{key}": missing or not a string; '
                                           'every row needs "prompt" and "completion" strings')
        rows.append(row)
    clf = EncoderClassifier.load(clf_dir)
    clf.batch_size = batch_size
    prompts, comps = [r["prompt"] for r in rows], [r["completion"] for r in rows]
    if ray_cfg is not None:
        from nines.scale.ray_batch import ray_score

        p = ray_score(clf_dir, prompts, comps, ray_cfg)
    else:
        p = clf.score(prompts, comps, progress=True)
    for r, pi in zip(rows, p):
        r[field] = float(pi)
        r["flagged"] = bool(pi > clf.threshold)
    write_rows(rows, output)
    click.echo(f"scored {len(rows)} rows ({int(np.sum(p > clf.threshold))} flagged at threshold "
               f"{clf.threshold:.4g}) -> {output}")
