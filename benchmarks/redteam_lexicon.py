"""Adversarial training that leaves the training families: the red-team lexicon, measured.

Run (in the project venv)::

    .venv/bin/python benchmarks/redteam_lexicon.py data.n_train=1500 data.n_val=500 data.n_clean=2000 \\
        train.epochs=1 --out runs/redteam_lexicon.json
    .venv/bin/python benchmarks/redteam_lexicon.py --classifier runs/redteam_lexicon/model ...   # reuse it
    ... --in-family-seeds 1000 --lexicon-seeds 1000 --plain-sizes ''   # the dose question (34 min)

Issue 11: three rounds of adversarial training moved the unseen-family failure rate only from 0.82%
to 0.70%, because the attack's moves never leave the training families. The red-team lexicon
(:mod:`nines.storyworld.redteam_families`) gives the attack phrasings the world never writes on its
own, with exact labels. One classifier (the demo recipe at the scale the overrides give) is
calibrated once, then each arm below trains one round from it, recalibrates to the same budgets,
and is measured on the same fresh prompts:

* ``no adversarial round``: the starting classifier (the baseline);
* ``attack, training families``: the shipped attack (``red_team_lexicon=false``);
* ``attack, + red-team lexicon``: the same attack allowed to move into the red-team families;
* ``red-team lexicon as plain data (N)``: no attack; N snippets (half injurious) sampled from the
  red-team families, first as many as the lexicon arm added (to tell the search's part from the
  new words'), then 2,000 (is the amount the lever?).

Columns: snippets added, the share of finds that use a red-team family, the threshold, filtered
failure rates with Clopper-Pearson 95% intervals (in-family and unseen families), first-sample
rejection on clean in-family and unseen prompts, the cheapest attack's queries per success on fresh
in-family seeds, and the unseen failures per held-out family.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from nines.adversarial.training import (
    AdversarialTrainConfig,
    RoundResult,
    attack_round,
    measure_round,
    recalibrate,
    retrain,
)
from nines.adversarial.world import WorldAttackConfig
from nines.classify.encoder import EncoderClassifier
from nines.classify.train import train_classifier
from nines.config import load_config
from nines.evaluate.storyworld_eval import EvalConfig
from nines.pipeline.demo import DemoConfig
from nines.recipes.data import build_run_data, enriched_storyworld
from nines.storyworld import StoryWorld
from nines.storyworld.redteam_families import uses_red_team


def load_or_train(path: str, cfg: DemoConfig, data: Any, out: Path) -> Path:
    """The starting classifier's folder: ``path`` if given, else the demo recipe trained once into ``out``."""
    if path:
        return Path(path)
    saved = out / "model"
    if not (saved / "nines.json").exists():
        train_classifier(data.train, data.val, replace(cfg.train, checkpoint_every=0), out_dir=out / "train",
                         progress=False).classifier.save(saved)
    return saved


def per_family(res: RoundResult) -> dict[str, int]:
    """Unseen-family filtered failures by realisation family (from the failure examples kept)."""
    if res.unseen is None:
        return {}
    return dict(Counter(str(e.get("family")) for e in res.unseen.filtered_failure_examples).most_common())


def row(name: str, res: RoundResult, added: int, red_share: str, seconds: float) -> dict[str, Any]:
    u = res.unseen
    return {
        "arm": name, "added": added, "red_team_share": red_share, "threshold": res.threshold,
        "in_family": res.in_family.filtered.to_dict(), "unseen": u.filtered.to_dict() if u else None,
        "rejection_in_family": res.in_family.first_sample_rejection_rate,
        "rejection_unseen": u.first_sample_rejection_rate if u else None,
        "queries_per_success": res.cost.get("queries_per_success_text"),
        "unseen_by_family": per_family(res), "seconds": seconds,
    }


def _rate(d: dict[str, Any]) -> str:
    return f"{d['estimate']:.3%} [{d['lower']:.3%}, {d['upper']:.3%}] ({d['k']}/{d['n']})"


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| arm | added | finds in red-team families | threshold | in-family filtered | unseen filtered "
            "| rejection in-family / unseen | queries per success | top unseen families (failures) |")
    lines = [head, "|" + " --- |" * 9]
    for r in rows:
        top = ", ".join(f"{f.split('.', 1)[-1]} {k}" for f, k in list(r["unseen_by_family"].items())[:3])
        lines.append(f"| {r['arm']} | {r['added']} | {r['red_team_share']} | {r['threshold']:.3f} "
                     f"| {_rate(r['in_family'])} | {_rate(r['unseen'])} "
                     f"| {r['rejection_in_family']:.1%} / {r['rejection_unseen']:.1%} "
                     f"| {r['queries_per_success']} | {top} |")
    return "\n".join(lines)


class Arms:
    """The shared starting point of every arm: data, classifier folder, families, configs."""

    def __init__(self, cfg: DemoConfig, data: Any, clf_dir: Path, acfg: AdversarialTrainConfig, out: Path) -> None:
        self.cfg, self.data, self.clf_dir, self.acfg, self.out = cfg, data, clf_dir, acfg, out
        self.train_fams, self.held = list(data.train_families), list(data.heldout_families)
        self.acfg = replace(acfg, attack=replace(acfg.attack, families=tuple(self.train_fams)))

    def measure(self, world: StoryWorld, clf: Any) -> RoundResult:
        return measure_round(world, clf, 1, self.train_fams, self.held, self.acfg, world.oracle(), progress=False)

    def finish(self, name: str, world: StoryWorld, added: list[Any], t: float) -> tuple[RoundResult, float]:
        """Retrain on ``added``, recalibrate to the same budgets, measure."""
        clf = retrain(self.clf_dir, self.data.train, self.data.val, added, self.acfg, 1,
                      self.out / name / "classifier", progress=False)
        recalibrate(clf, world, self.data.val, self.train_fams, self.acfg)
        return self.measure(world, clf), time.time() - t

    def attack(self, name: str, red_team: bool, seeds: int) -> tuple[dict[str, Any], int]:
        t = time.time()
        world = StoryWorld(seed=0, red_team_lexicon=red_team)
        fams = tuple(self.train_fams) + world.red_team_families
        acfg = replace(self.acfg, attack_seeds=seeds, attack=replace(self.acfg.attack, families=fams))
        clf = EncoderClassifier.load(self.clf_dir)
        report, finds, twins = attack_round(world, clf, 1, self.train_fams, acfg, progress=False)
        red = sum(uses_red_team(s.metadata.get("families", ())) for s in finds)
        # Retraining, thresholds and the attack-cost runs use the shipped in-family attack in every arm.
        res, sec = self.finish(name, world, finds + twins, t)
        share = f"{red / max(len(finds), 1):.0%} ({red}/{len(finds)})"
        return row(name, res, len(finds) + len(twins), share, sec), len(finds) + len(twins)

    def plain(self, name: str, n: int) -> dict[str, Any]:
        """The red-team lexicon as ``n`` sampled training snippets (half injurious), no attack."""
        t = time.time()
        world = StoryWorld(seed=0, red_team_lexicon=True)
        rows = enriched_storyworld(world, n, 0.5, seed=self.cfg.seed * 7919 + 11, families=world.red_team_families,
                                   distribution=self.cfg.data.distribution, split="train")
        res, sec = self.finish(name, world, rows, t)
        return row(name, res, n, "-", sec)


def adversarial_config(cfg: DemoConfig, args: argparse.Namespace) -> AdversarialTrainConfig:
    """The shipped adversarial-training defaults, at the benchmark's scale, calibrated as the demo is."""
    return AdversarialTrainConfig(
        rounds=1, cost_seeds=args.cost_seeds, cost_methods=("greedy",),
        attack=WorldAttackConfig(neighbours_per_step=16, queries_per_seed=600), n_clean=cfg.data.n_clean,
        seed=cfg.seed, calibrate=cfg.calibrate, filter=cfg.filter,
        eval=EvalConfig(n_prompts=args.n_prompts, n_unfiltered=20000))


def run_arms(arms: Arms, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The attack arms (in-family, then with the lexicon, per seed count), then the plain-data arms."""
    rows, n_red = [], 0
    for seeds in filter(None, args.in_family_seeds.split(",")):
        rows.append(arms.attack(f"attack, training families ({seeds} seeds)", False, int(seeds))[0])
        print(json.dumps(rows[-1]), flush=True)
    for seeds in filter(None, args.lexicon_seeds.split(",")):
        r, added = arms.attack(f"attack, + red-team lexicon ({seeds} seeds)", True, int(seeds))
        rows.append(r)
        n_red = n_red or added
        print(json.dumps(r), flush=True)
    for size in filter(None, args.plain_sizes.split(",")):
        if size == "match" and not n_red:
            raise SystemExit("--plain-sizes match needs a lexicon attack arm (--lexicon-seeds) to match")
        n = n_red if size == "match" else int(size)
        rows.append(arms.plain(f"red-team lexicon as plain data ({n})", n))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", default="", help="a trained classifier folder (default: train the demo recipe)")
    ap.add_argument("--cost-seeds", type=int, default=20, help="fresh caught snippets the attack cost is measured on")
    ap.add_argument("--n-prompts", type=int, default=5000, help="fresh prompts per evaluation condition")
    ap.add_argument("--in-family-seeds", default="100", help="seed counts of the in-family attack arms ('' skips)")
    ap.add_argument("--lexicon-seeds", default="100", help="seed counts of the lexicon attack arms ('' skips)")
    ap.add_argument("--plain-sizes", default="match,2000",
                    help="sizes of the plain-data arms (``match``: as many as the lexicon attack added)")
    ap.add_argument("--out", default="runs/redteam_lexicon.json")
    ap.add_argument("overrides", nargs="*", help="key=value overrides of the demo config")
    args = ap.parse_args()
    cfg = load_config(DemoConfig, None, tuple(args.overrides))
    world = StoryWorld(seed=0)
    data = build_run_data(world, cfg.data, cfg.seed)
    out = Path(args.out)
    t = time.time()
    clf_dir = load_or_train(args.classifier, cfg, data, out.with_suffix(""))
    print(f"starting classifier ready in {time.time() - t:.0f} s: {clf_dir}", flush=True)
    acfg = adversarial_config(cfg, args)
    arms = Arms(cfg, data, clf_dir, acfg, out.with_suffix(""))
    # The baseline gets the same calibration the arms get after their round.
    t = time.time()
    base = EncoderClassifier.load(clf_dir)
    recalibrate(base, world, data.val, arms.train_fams, acfg)
    rows = [row("no adversarial round", arms.measure(world, base), 0, "-", time.time() - t)]
    print(json.dumps(rows[-1]), flush=True)
    rows += run_arms(arms, args)
    print(table(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "heldout_families": arms.held, "overrides": args.overrides,
                               "args": {k: v for k, v in vars(args).items() if k != "overrides"}}, indent=1))
    print(f"\nrows in {out}; held-out families: {', '.join(arms.held)}")


if __name__ == "__main__":
    main()
