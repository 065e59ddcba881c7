"""CLI verbs that attack the classifier and train its failures away: saliency, attack, adversarial-train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nines.cli.common import config_options, make_generator, read_prompts, resolve, user_errors, write_rows

#: Attack names (kept here so `nines --help` does not import torch; nines.adversarial.runner.METHODS agrees).
ATTACKS = ("world", "latent", "greedy", "beam", "paraphrase", "redteam")


def _read_pairs(path: str) -> list[tuple[str, str]]:
    """Snippets to attack from JSONL (rows labelled safe are skipped: only injurious ones can be failures)."""
    from nines.data.io import read_jsonl

    return [(s.prompt, s.completion) for s in read_jsonl(path) if s.is_injurious is not False]


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title=f"attack: {summary['method']}")
    for col in ("seeds", "finds", "valid", "unverified", "success rate", "queries", "queries/valid find", "s/valid find"):
        table.add_column(col, justify="right")
    q, s = summary["queries_per_valid_find"], summary["seconds_per_valid_find"]
    table.add_row(str(summary["seeds"]), str(summary["finds"]), str(summary["valid_finds"]),
                  str(summary["unverified_finds"]), f"{summary['success_rate']:.1%}", str(summary["queries"]),
                  "-" if q == float("inf") else f"{q:.0f}", "-" if s == float("inf") else f"{s:.2f}")
    console.print(table)


@click.command()
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False))
@click.option("--method", type=click.Choice(ATTACKS), default="world", show_default=True,
              help="world: label-preserving StoryWorld search; latent: StoryWorld red-team sampling; greedy/beam: "
                   "token edits; paraphrase/redteam: a generator rewrites or writes attacks.")
@click.option("--input", "input_path", type=click.Path(dir_okay=False),
              help="JSONL of injurious snippets to attack (greedy, beam, paraphrase).")
@click.option("--generator", help="Generator spec for paraphrase/redteam (openai:URL#MODEL, hf:PATH).")
@click.option("--prompts", "prompts_path", type=click.Path(dir_okay=False), help="Stories to continue (redteam).")
@click.option("--output", required=True, type=click.Path(dir_okay=False),
              help="JSONL of finds; unverified ones also go to OUTPUT.review.jsonl for human review.")
@config_options
@user_errors
def attack(clf_dir: str, method: str, input_path: str | None, generator: str | None, prompts_path: str | None,
           output: str, config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Search for injurious snippets the filter accepts, and report what finding them cost.

    Finds confirmed by StoryWorld's oracle are real failures; the rest (token edits and rewrites of
    real text may change the label) go to a review queue, OUTPUT.review.jsonl, for a person to label.

    \b
    Examples:
      nines attack --classifier runs/demo/classifier --output finds.jsonl world.method=beam n_seeds=100
      nines attack --classifier clf/ --method greedy --input caught.jsonl --output finds.jsonl search.max_edits=3
      nines attack --classifier clf/ --method paraphrase --generator openai:http://localhost:8000/v1#m \\
          --input caught.jsonl --output finds.jsonl rewrite.n=16
    """
    from nines.adversarial.rewrite import review_rows
    from nines.adversarial.runner import AttackConfig, run_attack
    from nines.classify.encoder import EncoderClassifier
    from nines.config import save_config

    cfg = resolve(AttackConfig, config_path, overrides)
    out = Path(output)
    save_config(cfg, out.with_suffix(".config.yaml"))
    clf = EncoderClassifier.load(clf_dir)
    pairs = _read_pairs(input_path) if input_path else []
    gen = make_generator(generator)[0] if generator else None
    prompts = read_prompts(prompts_path) if prompts_path else []
    report = run_attack(method, clf, cfg, pairs, gen, prompts)
    write_rows([f.to_dict() for f in report.finds], str(out))
    review = review_rows(report)
    if review:
        write_rows(review, str(out.with_suffix(".review.jsonl")))
    summary = report.summary()
    out.with_suffix(".report.json").write_text(json.dumps(summary, indent=2, default=float))
    _print_summary(Console(), summary)
    click.echo(f"{len(report.finds)} finds -> {out}" + (f"; {len(review)} to review -> "
                                                        f"{out.with_suffix('.review.jsonl')}" if review else ""))


def _coloured(saliency: Any) -> Text:
    """Words coloured red when they push the score up, green when they push it down."""
    words = saliency.words()
    top = max((abs(w.value) for w in words), default=1.0) or 1.0
    text = Text()
    for seg in ("prompt", "completion"):
        text.append(f"{seg}: ", style="bold")
        for w in (w for w in words if w.segment == seg):
            share = min(1.0, abs(w.value) / top)
            level = int(55 + 200 * share)
            colour = f"rgb({level},60,60)" if w.value > 0 else f"rgb(60,{level},60)"
            text.append(w.word, style=colour if share > 0.15 else "")
            text.append(" ")
        text.append("\n")
    return text


@click.command()
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False))
@click.option("--prompt", required=True, help="The story so far.")
@click.option("--completion", required=True, help="The continuation to explain.")
@click.option("--method", type=click.Choice(["gradient", "occlusion"]), default="gradient", show_default=True)
@click.option("--suggest", default=3, show_default=True, help="Show edits for this many most score-raising words.")
@user_errors
def saliency(clf_dir: str, prompt: str, completion: str, method: str, suggest: int) -> None:
    """Show which words push the classifier's score up, and the edits that would lower it most.

    \b
    Example:
      nines saliency --classifier runs/demo/classifier --prompt "The troll raised its club." \\
          --completion "The club broke Mara's arm."
    """
    from nines.adversarial.candidates import (
        CandidateSource,
        EmbeddingNeighbours,
        GradientCandidates,
        suggest_edits,
    )
    from nines.adversarial.saliency import gradient_saliency, occlusion_saliency
    from nines.classify.encoder import EncoderClassifier

    clf = EncoderClassifier.load(clf_dir)
    sal = gradient_saliency(clf, prompt, completion) if method == "gradient" else occlusion_saliency(
        clf, prompt, completion)
    con = Console()
    verdict = "rejected" if sal.score > clf.threshold else "accepted"
    con.print(f"score {sal.score:.4f} (threshold {clf.threshold:.4f}): {verdict}")
    con.print(_coloured(sal))
    sources: list[CandidateSource] = [EmbeddingNeighbours(clf), GradientCandidates(clf)]
    for w in sorted(sal.words(), key=lambda w: -w.value)[:suggest]:
        sugg = suggest_edits(clf, prompt, completion, w.segment, w.index, sources, k=5)[:5]
        con.print(f"[bold]{w.word}[/] ({w.segment} word {w.index}, saliency {w.value:+.3f}):")
        for s in sugg:
            mark = "accepted" if s.accepted else ""
            con.print(f"   {s.kind:10s} {s.old!r:>14} -> {s.new!r:<16} score {s.score:.4f} {mark}")


@click.command("adversarial-train")
@click.option("--classifier", "clf_dir", default="runs/demo/classifier", show_default=True,
              type=click.Path(file_okay=False), help="The starting classifier (e.g. the one `nines demo` trained).")
@click.option("--data", "data_path", default="runs/demo/data/train.jsonl", show_default=True,
              type=click.Path(dir_okay=False), help="Its labelled training JSONL.")
@click.option("--val", "val_path", default="runs/demo/data/val.jsonl", show_default=True,
              type=click.Path(dir_okay=False), help="Its labelled validation JSONL (recalibration).")
@click.option("--confirmed", "confirmed_path", type=click.Path(dir_okay=False),
              help="Human-confirmed adversarial snippets (a reviewed OUTPUT.review.jsonl) to add in round 1.")
@click.option("--output", default="runs/adversarial", show_default=True, type=click.Path(file_okay=False))
@config_options
@user_errors
def adversarial_train(clf_dir: str, data_path: str, val_path: str, confirmed_path: str | None, output: str,
                      config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Rounds of: attack the classifier, train on the failures found, recalibrate, re-measure.

    Each round reports the in-family failure rate through the filter (with its exact bound), the
    failure rate on held-out realisation families, and the attack cost (queries and seconds per
    successful attack) of a fresh attack run. Writes OUTPUT/round_K/ and OUTPUT/rounds.json.

    \b
    Example:
      nines adversarial-train --classifier runs/demo/classifier --output runs/adv rounds=3 attack.method=beam
    """
    from nines.adversarial.training import AdversarialTrainConfig
    from nines.data.io import read_jsonl
    from nines.recipes.adversarial import adversarial_train as adversarial_recipe

    for p in (data_path, val_path):
        if not Path(p).is_file():
            raise click.UsageError(f"{p} does not exist; run `nines demo` first or pass --data/--val")
    cfg = resolve(AdversarialTrainConfig, config_path, overrides)
    confirmed = read_jsonl(confirmed_path) if confirmed_path else []
    summary = adversarial_recipe(clf_dir, read_jsonl(data_path), read_jsonl(val_path), cfg, output,
                                 confirmed=confirmed)
    rows = summary.table()
    table = Table(title="adversarial training")
    for col in rows[0]:
        table.add_column(col.replace("_", " "))
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)
    bound = " (lower bound: the last attack found nothing)" if summary.cost_ratio_is_lower_bound else ""
    click.echo(f"attack cost after {cfg.rounds} rounds: {summary.cost_ratio_queries:.1f}x the queries and "
               f"{summary.cost_ratio_seconds:.1f}x the seconds per success{bound}; {Path(output) / 'rounds.json'}")
