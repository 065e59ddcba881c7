"""The human loop over HTTP at scale: estimates from scripted people's labels next to the truth.

    NINES_SHARED=../shared .venv/bin/python benchmarks/human_loop.py                 # ~15-20 min on 2 busy cores
    NINES_SHARED=../shared .venv/bin/python benchmarks/human_loop.py --db postgresql+psycopg://u:p@127.0.0.1/db

What runs (:func:`nines.app.simulate_loop.run_human_loop`): stories260K (a real pretrained tiny Llama)
continues TinyStories prompts; ``nines serve`` runs on loopback; the completions are imported as a
training and an evaluation dataset; three scripted labellers (a keyword rule for "someone is hurt or
upset", error rates ``--errors``) label what the queues serve over HTTP; the labels are exported and
``nines train`` (MiniLM) and ``nines calibrate`` make the filter; ``nines evaluate --plan`` writes and
imports a labelling plan whose queue the labellers label and whose coupled pairs two raters compare;
then ``nines evaluate --labels STORE#eval`` and ``--labels STORE#plan``. The truth is the rule applied
to ``--truth-prompts`` fresh prompts x ``--pool-size`` draws of the filtered generator, under the
labellers' expected labels (a majority of three, flip probability ``label_flip``) and under the
rule itself. Skips (exit 0 with a message) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nines.app.simulate_loop import HumanLoopConfig, coverage, run_human_loop
from nines.data.devset import shared_dir


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fmt(c: dict[str, Any]) -> str:
    est = "-" if c["estimate"] is None else f"{c['estimate']:.4f}"
    iv = "no figure" if c["lower"] != c["lower"] else f"[{c['lower']:.4f}, {c['upper']:.4f}]"
    if c["status"] != "estimate" and c["lower"] == c["lower"]:
        iv += f" ({'zero-failure bound' if c['status'] == 'bound' else 'too few labels: conservative bound only'})"
    return (f"| {c['check']} | {est} | {iv} | {c['truth']:.4f} ± {c['truth_se']:.4f} | "
            f"{'yes' if c['covered'] else 'NO'}{' (pool allowance)' if c['allowance'] else ''} |")


def table(res: dict[str, Any]) -> str:
    """The Markdown table of estimates next to the truth, and the run's facts."""
    tr, ev = res["truth"], res["eval"]
    rule_truth = {"unfiltered failure rate": tr["unfiltered_rule"], "filtered failure rate (reweighted)":
                  tr["filtered_rule"], "filtered failure rate (plan)": tr["filtered_rule"]}
    lines = ["| figure | estimate | reported interval (95%) | truth (labels) ± se | covered |", "|---|---|---|---|---|"]
    lines += [_fmt(c) for c in coverage(res)]
    lines.append("")
    lines.append(f"Truth under the rule itself (no labeller error): unfiltered {rule_truth['unfiltered failure rate']:.4f}, "
                 f"filtered {tr['filtered_rule']:.4f} (first accepted draw only: {tr['filtered_first_rule']:.4f}); "
                 f"majority-label flip probability {tr['label_flip']:.4f}; {tr['n_prompts']} fresh prompts x "
                 f"{tr['pool_size']} draws, {tr['accepted_share']:.1%} accepted, {tr['refused']} refused.")
    rel = ev["reliability"]
    if rel.get("ran", True):
        lines.append(f"Reweighted: {rel['n_labels']} labels ({rel['n_failures_unfiltered']} failures) on "
                     f"{rel['n_prompts']} prompts, {rel['samples_per_prompt']:.1f} scored samples per prompt, "
                     f"ESS {rel['at_threshold']['effective_sample_size']:.0f}; verdict: {rel['verdict']['reason']}.")
    if res.get("plan_eval"):
        pe = res["plan_eval"]["plan"]
        lines.append(f"Plan ({pe['design']}): {pe['labels']} labelled rows, {pe['failures']} failures; "
                     f"verdict: {pe['verdict']['reason']}.")
    ag = res["agreement"]
    lines.append("Labeller agreement: " + "; ".join(
        f"{q}: {a['items']} items, {a['labels']} labels, pairwise {a['pairwise']:.3f}, alpha {a['alpha']:.3f}"
        for q, a in ag.items()))
    c = res["counts"]
    lines.append(f"Labels given over HTTP: train {sum(c['train_labels_given'].values())}, eval "
                 f"{sum(c['eval_labels_given'].values())}, plan {sum(c.get('plan_labels_given', {}).values())}; "
                 f"comparisons {sum(c.get('comparisons', {}).values())}; empty completions dropped "
                 f"{c['empty_completions_dropped']}.")
    lines.append("Time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in res["steps"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-prompts", type=int, default=400)
    ap.add_argument("--eval-prompts", type=int, default=400)
    ap.add_argument("--plan-prompts", type=int, default=100)
    ap.add_argument("--plan-labels", type=int, default=100)
    ap.add_argument("--truth-prompts", type=int, default=500)
    ap.add_argument("--pool-size", type=int, default=6)
    ap.add_argument("--samples-per-prompt", type=int, default=6)
    ap.add_argument("--errors", default="0.03,0.05,0.08", help="The labellers' error rates (an odd number).")
    ap.add_argument("--rater-noise", type=float, default=0.1)
    ap.add_argument("--backbone", default="all-MiniLM-L6-v2")
    ap.add_argument("--train-steps", type=int, default=100)
    ap.add_argument("--rejection-budget", type=float, default=0.2)
    ap.add_argument("--db", default=None, help="postgresql:// URL for the app's store (default: SQLite).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=None, help="Folder for the run (default: a temporary one).")
    ap.add_argument("--out", default=None, help="Write the whole result as JSON here.")
    args = ap.parse_args(argv)
    if shared_dir() is None:
        print("skipped: ../shared (or $NINES_SHARED) is absent; the benchmark needs stories260K and TinyStories")
        return 0
    cfg = HumanLoopConfig(
        backbone=args.backbone, train_prompts=args.train_prompts, eval_prompts=args.eval_prompts,
        plan_prompts=args.plan_prompts, plan_labels=args.plan_labels, truth_prompts=args.truth_prompts,
        pool_size=args.pool_size, samples_per_prompt=args.samples_per_prompt,
        labeller_errors=tuple(float(x) for x in args.errors.split(",")), rater_noise=args.rater_noise,
        train_steps=args.train_steps, rejection_budget=args.rejection_budget, db=args.db, seed=args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nines-human-loop-") as tmp:
        res = run_human_loop(cfg, Path(args.work or tmp), _port())
    res["seconds"] = time.perf_counter() - t0
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1, default=str))
    print(table(res))
    print(f"\ntotal {res['seconds']:.0f} s")
    return 0 if all(c["covered"] for c in coverage(res)) else 1


if __name__ == "__main__":
    sys.exit(main())
