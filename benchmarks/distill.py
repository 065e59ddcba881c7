"""Distillation benchmark: unfiltered, filtered, best-of-n distilled and RL distilled policies on StoryWorld.

Trains (or loads, with ``--start-policy``) the tiny StoryWorld policy, distils the classifier
filter into it by best-of-n fine-tuning and by RL (TRL RLOO, classifier log-acceptance reward, KL
penalty), then runs all four policies on the same fresh prompts and prints the comparison table
(oracle failure rate with exact bounds, invalid text, classifier-flagged rate, win rate against
the unfiltered policy, KL to the start, generator and classifier calls per completion) and whether
the RL policy meets the goal: the filtered policy's failure rate within its interval, at a win rate
no worse, with one generator call per completion.

Run (about 45 minutes on 2 CPU cores, after ``make demo`` made ``runs/demo/classifier``):

    .venv/bin/python benchmarks/distill.py --classifier runs/demo/classifier --output runs/distill_bench

Extra ``key=value`` arguments override :class:`nines.recipes.distill.DistillConfig` fields
(``rl.beta=0.3``, ``rl.algorithm=grpo``, ``eval.n_prompts=20000`` ...).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from nines.config import load_config
from nines.distill.report import goal_check
from nines.distill.table import markdown_table
from nines.recipes.distill import DistillConfig, distill


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classifier", default="runs/demo/classifier")
    ap.add_argument("--output", default="runs/distill_bench")
    ap.add_argument("--start-policy", default="", help="reuse a trained start policy folder (skips its SFT)")
    ap.add_argument("overrides", nargs="*", help="DistillConfig key=value overrides")
    args = ap.parse_args()
    if not Path(args.classifier).is_dir():
        raise SystemExit(f"{args.classifier} does not exist: run `make demo` first or pass --classifier")
    cfg = load_config(DistillConfig, None, [f"classifier={args.classifier}", f"output={args.output}",
                                            f"start_policy={args.start_policy}", *args.overrides])
    results = distill(cfg, progress=True, console=Console()).to_dict()
    print()
    print(markdown_table(list(results["policies"].values())))
    print(f"\nStoryWorld's own exact failure rate on the same prompts: {results['world_exact_failure_rate']:.3%}")
    for name in ("best-of-n distilled", "RL distilled"):
        g = goal_check(results["policies"], name)
        if g is not None:
            print(f"\n{name}: " + json.dumps(g))
    if "kl_curve" in results:
        print("\nRL checkpoints (step, sqrt KL, mean reward, oracle failure rate, invalid rate):")
        for p in results["kl_curve"]:
            print(f"  {p['step']:>5}  {p['sqrt_kl']:.3f}  {p['mean_reward']:.4f}  {p['failure']['estimate']:.4%}  "
                  f"{p['invalid_rate']:.2%}")


if __name__ == "__main__":
    main()
