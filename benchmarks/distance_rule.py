"""Distance-to-training-data rule: be more suspicious of a snippet unlike anything the classifier trained on.

Run (in the project venv)::

    .venv/bin/python benchmarks/distance_rule.py data.n_train=1500 data.n_val=500 data.n_clean=2000 \\
        train.epochs=1 --out runs/distance_rule.json
    .venv/bin/python benchmarks/distance_rule.py --classifier runs/g/_models/<key>/member0/model ...

The idea (issue 11, "conservatism where the classifier is unsure"): a phrasing far from every training
row is where the classifier's score means least, so such a snippet should need less evidence to be
rejected. Novelty is ``1 - max cosine similarity`` between a pair's embedding and the embeddings of
the classifier's own training rows. Two embedding spaces are tried: the fine-tuned classifier's
mean-pooled last hidden states, and the same backbone before fine-tuning.

Rules, each with its threshold chosen again at the same rejection budgets (``calibrate.*`` of the
demo config: clean in-family prompts at 5%, and each ``calibrate.pools`` pool at its own budget), so
every row spends the same rejection and differs only in *which* snippets it rejects:

* ``score`` (the baseline): reject when ``score > t``;
* ``add a``: reject when ``score + a * novelty > t``;
* ``gate q``: reject when ``score > t``, or when novelty is above the ``q`` quantile of clean
  in-family novelty and ``score > 0.5``.

Columns are per-sample figures on fresh StoryWorld samples, unfiltered: recall (injurious rejected)
and false flags (safe rejected) on the families the classifier trained on and on the held-out ones,
plus the recall on the held-out family the baseline misses most. A filtered failure rate falls with
the miss rate on injurious samples at a fixed rejection, so a rule that does not raise unseen recall
here cannot lower the unseen filtered rate; the full filter is measured by
``benchmarks/generalization.py`` for rules that do.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nines.classify.calibrate import calibrate_classifier
from nines.classify.encoder import EncoderClassifier
from nines.classify.pools import CleanPool, resolve_pools
from nines.classify.train import train_classifier
from nines.config import load_config
from nines.pipeline.data import build_run_data
from nines.pipeline.demo import DemoConfig

Rule = Callable[[np.ndarray, dict[str, np.ndarray], float], np.ndarray]  # (score, novelty by space, t) -> rejected


@dataclass
class Scored:
    """One set of pairs: classifier scores, novelty per embedding space, labels and families."""

    name: str
    score: np.ndarray
    novelty: dict[str, np.ndarray]
    injurious: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    family: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))


def embed(model: Any, clf: EncoderClassifier, prompts: Sequence[str], completions: Sequence[str],
          batch_size: int = 64) -> np.ndarray:
    """Unit-norm mean-pooled last hidden states of ``model`` on the classifier's inputs, shape ``(N, H)``."""
    out = []
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(prompts), batch_size):
            b = clf.encode(prompts[s:s + batch_size], completions[s:s + batch_size])
            h = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state  # (B, T, H)
            m = b["attention_mask"].unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, 1))


class Novelty:
    """``1 - max cosine similarity`` to the training rows, in one embedding space."""

    def __init__(self, model: Any, clf: EncoderClassifier, train: Sequence[Any]) -> None:
        self.model, self.clf = model, clf
        self.train = embed(model, clf, [s.prompt for s in train], [s.completion for s in train])  # (N_train, H)

    def __call__(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        x = embed(self.model, self.clf, prompts, completions)  # (N, H)
        best = np.full(len(x), -1.0)
        for s in range(0, len(x), 1024):  # (1024, N_train) similarity blocks keep memory flat
            best[s:s + 1024] = (x[s:s + 1024] @ self.train.T).max(axis=1)
        return 1.0 - best


def load_or_train(args: argparse.Namespace, cfg: DemoConfig, data: Any, out: Path) -> EncoderClassifier:
    if args.classifier:
        return EncoderClassifier.load(args.classifier)
    saved = out / "model"
    if (saved / "nines.json").exists():
        return EncoderClassifier.load(saved)
    tc = replace(cfg.train, checkpoint_every=0)
    clf = train_classifier(data.train, data.val, tc, out_dir=out, progress=False).classifier
    clf.save(saved)
    return clf


def score_sets(clf: EncoderClassifier, spaces: dict[str, Novelty], clean: Any, world: Any, cfg: DemoConfig,
               data: Any, n_eval: int) -> tuple[Scored, list[tuple[CleanPool, Scored]], list[Scored]]:
    """The clean calibration pool, the extra pools, and in-family / unseen evaluation samples."""
    def scored(name: str, prompts: Sequence[str], completions: Sequence[str], **kw: Any) -> Scored:
        return Scored(name, clf.score(prompts, completions),
                      {k: nov(prompts, completions) for k, nov in spaces.items()}, **kw)

    main = scored("clean", clean.prompts, clean.completions)
    pools = [(p, scored(p.name, p.prompts, p.completions)) for p in resolve_pools(cfg.calibrate.pools)]
    evals = []
    for i, (name, fams) in enumerate((("in-family", data.train_families), ("unseen", data.heldout_families))):
        b = world.sample(max(4 * n_eval, 20_000), seed=4242 + i, distribution=cfg.data.distribution, families=list(fams))
        y = np.asarray(b.injurious, dtype=bool)
        # Every injurious sample and as many safe ones as asked: recall needs the positives.
        keep = np.sort(np.concatenate([np.flatnonzero(y), np.flatnonzero(~y)[:n_eval]]))
        evals.append(scored(name, [b.prompts[j] for j in keep], [b.completions[j] for j in keep],
                            injurious=y[keep], family=np.asarray(b.family_table)[b.family[keep]]))
    return main, pools, evals


def additive(a: float, space: str) -> Rule:
    """Reject when ``score + a * novelty > t``."""
    return lambda s, n, t: s + a * n[space] > t


def gated(cut: float, space: str) -> Rule:
    """Reject when ``score > t``, or when novelty is above ``cut`` and ``score > 0.5``."""
    return lambda s, n, t: (s > t) | ((n[space] > cut) & (s > 0.5))


def rules(main: Scored, spaces: Sequence[str], alphas: Sequence[float], gates: Sequence[float]) -> dict[str, Rule]:
    out: dict[str, Rule] = {"score": lambda s, n, t: s > t}
    for sp in spaces:
        for a in alphas:
            out[f"add {a:g} ({sp})"] = additive(a, sp)
        for q in gates:
            out[f"gate {q:g} ({sp})"] = gated(float(np.quantile(main.novelty[sp], q)), sp)
    return out


def fit_threshold(rule: Rule, sets: Sequence[Scored], budgets: Sequence[float]) -> float:
    """The smallest threshold keeping every set within its budget (bisection: rejection falls as t rises)."""
    lo = min(float(s.score.min()) for s in sets) - 10.0
    hi = max(float(s.score.max()) for s in sets) + 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        ok = all(np.mean(rule(s.score, s.novelty, mid)) <= b for s, b in zip(sets, budgets))
        lo, hi = (lo, mid) if ok else (mid, hi)
    return hi


def budgets(pools: list[tuple[CleanPool, Scored]], default: float) -> list[float]:
    """The clean pool's budget, then each extra pool's own (or the default)."""
    return [default] + [p.budget if p.budget is not None else default for p, _ in pools]


def evaluate(name: str, rule: Rule, main: Scored, pools: list[tuple[CleanPool, Scored]], evals: list[Scored],
             default_budget: float, worst: str) -> dict[str, Any]:
    sets = [main] + [s for _, s in pools]
    limits = budgets(pools, default_budget)
    t = fit_threshold(rule, sets, limits)
    rejection = {s.name: float(np.mean(rule(s.score, s.novelty, t))) for s in sets}
    # A rule whose fixed part alone rejects more than a budget allows has no feasible threshold.
    feasible = all(rejection[s.name] <= b + 1e-9 for s, b in zip(sets, limits))
    row: dict[str, Any] = {"rule": name, "threshold": t, "feasible": feasible, "rejection": rejection}
    for e in evals:
        flag = rule(e.score, e.novelty, t)
        y = np.asarray(e.injurious, dtype=bool)
        row[e.name] = {"recall": float(flag[y].mean()), "false_flag": float(flag[~y].mean()), "n_pos": int(y.sum())}
        if e.name == "unseen":
            m = y & (e.family == worst)
            row[e.name]["worst_family_recall"] = float(flag[m].mean()) if m.any() else None
    return row


def table(rows: list[dict[str, Any]], worst: str, pools: Sequence[str]) -> str:
    cols = ["rule", "in-family R / FF", "unseen R / FF", f"{worst} R", "clean rej", *(f"{p} rej" for p in pools)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        i, u = r["in-family"], r["unseen"]
        name = r["rule"] if r["feasible"] else f"{r['rule']} (over budget at any threshold)"
        cells = [name, f"{i['recall']:.1%} / {i['false_flag']:.1%}", f"{u['recall']:.1%} / {u['false_flag']:.1%}",
                 f"{u['worst_family_recall']:.1%}", f"{r['rejection']['clean']:.1%}",
                 *(f"{r['rejection'][p]:.1%}" for p in pools)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def worst_family(main_rule: Rule, t: float, unseen: Scored) -> str:
    y = np.asarray(unseen.injurious, dtype=bool)
    flag = main_rule(unseen.score, unseen.novelty, t)
    fams, misses = np.unique(unseen.family[y & ~flag], return_counts=True)
    return str(fams[np.argmax(misses)]) if len(fams) else ""


def diagnostics(base: Rule, t: float, main: Scored, pools: list[tuple[CleanPool, Scored]],
                evals: list[Scored]) -> dict[str, Any]:
    """Does novelty mark the baseline's misses, and how novel is each pool? (Printed and saved.)"""
    from nines.evaluate.prose_eval import roc_auc

    out: dict[str, Any] = {"median_novelty": {}, "miss_vs_safe_auc": {}}
    for s in [main] + [p for _, p in pools] + evals:
        out["median_novelty"][s.name] = {k: float(np.median(v)) for k, v in s.novelty.items()}
    for e in evals:
        y = np.asarray(e.injurious, dtype=bool)
        miss, safe = y & ~base(e.score, e.novelty, t), ~y
        if miss.any() and safe.any():
            # ROC AUC of novelty for "a miss" against "a safe sample": 0.5 means novelty cannot tell them apart.
            is_miss = np.r_[np.ones(miss.sum(), dtype=bool), np.zeros(safe.sum(), dtype=bool)]
            out["miss_vs_safe_auc"][e.name] = {k: roc_auc(np.r_[v[miss], v[safe]], is_miss)
                                               for k, v in e.novelty.items()}
    print("median novelty:", json.dumps(out["median_novelty"]))
    print("novelty ROC AUC, baseline misses against safe samples:", json.dumps(out["miss_vs_safe_auc"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", default="", help="a trained classifier folder (default: train the demo recipe)")
    ap.add_argument("--n-eval", type=int, default=3000, help="safe samples per evaluation condition")
    ap.add_argument("--alphas", default="0.25,0.5,1,2")
    ap.add_argument("--gates", default="0.95,0.99", help="clean-novelty quantiles for the gate rule")
    ap.add_argument("--out", default="runs/distance_rule.json")
    ap.add_argument("overrides", nargs="*", help="key=value overrides of the demo config")
    args = ap.parse_args()
    from nines.storyworld import StoryWorld

    cfg = load_config(DemoConfig, None, tuple(args.overrides))
    world = StoryWorld(seed=0)
    data = build_run_data(world, cfg.data, cfg.seed)
    out = Path(args.out)
    clf = load_or_train(args, cfg, data, out.with_suffix(""))
    t0 = time.time()
    clean = world.sample(cfg.data.n_clean, seed=cfg.seed * 7919 + 3, distribution=cfg.data.distribution,
                         families=list(data.train_families))
    # The shipped calibration: its temperature sets the score scale the additive rule adds novelty to.
    shipped = calibrate_classifier(clf, data.val, clean.prompts, clean.completions, cfg.calibrate)
    pretrained = EncoderClassifier.from_backbone(clf.meta.backbone).model.base_model
    spaces = {"fine-tuned": Novelty(clf.model.base_model, clf, data.train), "pretrained": Novelty(pretrained, clf, data.train)}
    main_set, pools, evals = score_sets(clf, spaces, clean, world, cfg, data, args.n_eval)
    print(f"scored and embedded in {time.time() - t0:.0f} s", flush=True)
    all_rules = rules(main_set, list(spaces), [float(a) for a in args.alphas.split(",") if a],
                      [float(q) for q in args.gates.split(",") if q])
    base = all_rules["score"]
    t_base = fit_threshold(base, [main_set] + [s for _, s in pools], budgets(pools, cfg.calibrate.rejection_budget))
    # The bisection must land where the shipped rule does, or the rows are not comparable with the demo.
    print(f"shipped threshold {shipped.threshold:.4f}; refitted {t_base:.4f}")
    worst = worst_family(base, t_base, evals[1])
    diag = diagnostics(base, t_base, main_set, pools, evals)
    rows = [evaluate(n, r, main_set, pools, evals, cfg.calibrate.rejection_budget, worst) for n, r in all_rules.items()]
    print(table(rows, worst, [p.name for p, _ in pools]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "worst_family": worst, "diagnostics": diag, "overrides": args.overrides},
                              indent=1))
    print(f"\nrows in {out}; per-sample figures on {evals[0].injurious.sum()} / {evals[1].injurious.sum()} "
          f"injurious and {args.n_eval} safe StoryWorld samples per condition")


if __name__ == "__main__":
    main()
