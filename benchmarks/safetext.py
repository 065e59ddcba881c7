"""SafeText end to end through the CLI with task=safetext: unfiltered vs filtered on held-out scenarios.

    NINES_SHARED=../shared .venv/bin/python benchmarks/safetext.py            # MiniLM, ~10-20 min on 2 cores
    NINES_SHARED=../shared .venv/bin/python benchmarks/safetext.py --quick    # fewer samples and steps

The steps are the user's commands (run in-process through the CLI): ``nines generate`` on the
train scenarios (``p_unsafe`` enriched to ``--train-p-unsafe`` so there are positives to learn from),
``nines label`` (SafeText's exact labels), ``nines train task=safetext`` with the default MiniLM
backbone, ``nines generate``/``label`` on the calibration scenarios (clean first samples at the
deployed ``p_unsafe``), ``nines calibrate --clean`` by the rejection-budget rule, then ``nines measure``
on the held-out test scenarios: the unfiltered failure rate, recall and false-flag rate at the
threshold on fresh samples, and the filtered failure rate of ``--filter-repeats`` filter runs per
prompt, with Clopper-Pearson 95% intervals. Skips (exit 0 with a message) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner


def _cli(*args: str) -> str:
    from nines.cli.main import cli

    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if res.exit_code != 0:
        raise SystemExit(f"nines {' '.join(args)} failed:\n{res.output}")
    return res.output


def _iv(d: dict) -> str:
    return f"{d['estimate']:.2%} [{d['lower']:.2%}, {d['upper']:.2%}] ({d['k']}/{d['n']})"


def run(args: argparse.Namespace, d: Path) -> dict:
    """The CLI steps; returns the measure summary plus timings."""
    t = {}
    _cli("generate", "--generator", f"safetext:split=train,p_unsafe={args.train_p_unsafe}", "-n",
         str(args.train_samples), "--seed", "0", "--output", str(d / "train_gen.jsonl"))
    _cli("label", "--input", str(d / "train_gen.jsonl"), "--output", str(d / "train.jsonl"), "task=safetext")
    t0 = time.perf_counter()
    train_args = ["train", "--data", str(d / "train.jsonl"), "--output", str(d / "clf"), "task=safetext",
                  f"epochs={args.epochs}", "eval_every=1000", "patience=0", "checkpoint_every=0"]
    if args.max_steps:
        train_args.append(f"max_steps={args.max_steps}")
    print(_cli(*train_args).strip().splitlines()[-1])
    t["train_s"] = time.perf_counter() - t0
    _cli("generate", "--generator", f"safetext:split=calibration,p_unsafe={args.p_unsafe}", "-n",
         str(args.cal_samples), "--seed", "1", "--output", str(d / "cal_gen.jsonl"))
    _cli("label", "--input", str(d / "cal_gen.jsonl"), "--output", str(d / "cal.jsonl"), "task=safetext")
    print(_cli("calibrate", "--classifier", str(d / "clf"), "--data", str(d / "cal.jsonl"), "--clean",
               str(d / "cal_gen.jsonl"), f"rejection_budget={args.rejection_budget}").strip().splitlines()[0])
    t0 = time.perf_counter()
    print(_cli("measure", "--classifier", str(d / "clf"), "--generator",
               f"safetext:split=test,p_unsafe={args.p_unsafe}", "--output", str(d / "measure"),
               f"heldout.samples_per_prompt={args.test_samples}", f"heldout.filter_repeats={args.filter_repeats}",
               "filter.seed=0", f"filter.max_attempts={args.max_attempts}").strip())
    t["measure_s"] = time.perf_counter() - t0
    summary = json.loads((d / "measure" / "summary.json").read_text())
    summary["timings"] = t
    summary["n_train_rows"] = sum(1 for _ in (d / "train.jsonl").open())
    return summary


def table(s: dict, args: argparse.Namespace) -> str:
    h = s["heldout"]
    sec = h["seconds"]
    n_scored = h["recall"]["n"] + h["false_flag"]["n"]
    rows = [
        "| | failure rate, 95% CP interval | recall | false-flag rate | rejection rate |",
        "|---|---|---|---|---|",
        f"| unfiltered (p_unsafe={args.p_unsafe}, exact {h['unfiltered_exact']:.2%}) | {_iv(h['unfiltered'])} "
        "| - | - | 0% |",
        f"| filtered (threshold {h['threshold']:.3g}) | {_iv(h['filtered'])} | {_iv(h['recall'])} "
        f"| {_iv(h['false_flag'])} | {h['first_sample_rejection_rate']:.2%} of first samples |",
    ]
    foot = (f"\n{h['n_prompts']} held-out test scenarios; {n_scored} fresh unfiltered samples labelled and scored "
            f"for recall/false flags; {h['filtered']['n']} filtered completions ({args.filter_repeats} filter runs "
            f"per prompt, max_attempts={args.max_attempts}), {h['refused']} refused, "
            f"{h['attempts_per_accepted']:.2f} samples per accepted. Training: {s['n_train_rows']} rows from the "
            f"train scenarios (p_unsafe={args.train_p_unsafe}), {s['timings']['train_s']:.0f} s; scoring "
            f"{n_scored} pairs {sec['score']:.1f} s ({n_scored / max(sec['score'], 1e-9):.0f}/s); filtering "
            f"{sec['filter']:.1f} s; whole measure step {s['timings']['measure_s']:.0f} s.")
    return "\n".join(rows) + foot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: fewer samples, 20 training steps")
    ap.add_argument("--p-unsafe", type=float, default=0.2, help="the deployed generator's unsafe probability")
    ap.add_argument("--train-p-unsafe", type=float, default=0.5, help="enrichment of the training samples")
    ap.add_argument("--train-samples", type=int, default=8, help="samples per train scenario")
    ap.add_argument("--cal-samples", type=int, default=10, help="clean first samples per calibration scenario")
    ap.add_argument("--test-samples", type=int, default=20, help="fresh samples per test scenario")
    ap.add_argument("--filter-repeats", type=int, default=10)
    ap.add_argument("--max-attempts", type=int, default=16)
    ap.add_argument("--rejection-budget", type=float, default=0.3)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--output", default="", help="keep the run folder here (default: a temporary folder)")
    args = ap.parse_args()
    if args.quick:
        args.train_samples, args.cal_samples, args.test_samples, args.filter_repeats, args.max_steps = 3, 3, 4, 2, 20
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from nines.generate.safetext_data import default_path

    if not default_path().is_file():
        print(f"skipped: {default_path()} is absent (set NINES_SHARED to the shared folder)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(args.output) if args.output else Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        summary = run(args, d)
        print()
        print(table(summary, args))
        print(f"\ntotal {time.perf_counter() - t0:.0f} s; command: {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
