"""Labels needed to reach a target recall at a fixed rejection budget, per selection strategy.

Setup (the same for every strategy, so the comparison is fair):

* pool: a large unlabelled StoryWorld sample (``default`` distribution, ~4% injurious);
* test: a separate natural StoryWorld sample; the deployment metric is recall = share of injurious
  test snippets rejected at the threshold that rejects ``--budget`` of ALL test snippets
  (:func:`~nines.classify.metrics.threshold_at_rejection`);
* classifier: hashed n-grams + logistic regression (:mod:`nines.active.hashing`), refit from
  scratch every round on all labels so far. A neural encoder re-embedding or fine-tuning every
  round would be far too slow for many rounds x strategies x seeds on a 2-core CPU;
* start: the same random initial labelled set per seed for every strategy; then rounds of ``--k``
  labels chosen by the strategy; stop at ``--target`` recall or ``--max-labels``;
* the ``redwood`` threshold is the pool's threshold at ``--budget`` under the current model (the
  pool is unlabelled natural data, so this is what a deployment would use).

With ``--heldout`` the pool and the main test set use only the training side of
``StoryWorld.split_families`` and a third sample from the held-out families is scored at the same
threshold (``recall_heldout``), to see whether what a strategy learns transfers to phrasings it
never saw.

Run::

    .venv/bin/python benchmarks/active_learning.py            # ~3-5 min
    .venv/bin/python benchmarks/active_learning.py --quick    # ~30 s
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from nines.active import hashing
from nines.active.loop import ActiveLearningLoop, RoundRecord
from nines.classify.metrics import recall_at, threshold_at_rejection
from nines.storyworld import StoryWorld

STRATEGY_ORDER = ("redwood", "uncertainty", "disagreement", "random")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--quick`` shrinks sizes for a ~30 s run)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pool", type=int, default=150_000, help="unlabelled pool size")
    p.add_argument("--test", type=int, default=100_000, help="test sample size")
    p.add_argument("--budget", type=float, default=0.05, help="rejection budget on all test snippets")
    p.add_argument("--target", type=float, default=0.95, help="target recall at the budget")
    p.add_argument("--initial", type=int, default=200, help="random initial labelled set")
    p.add_argument("--k", type=int, default=100, help="labels per round")
    p.add_argument("--max-labels", type=int, default=6000, help="label budget per run")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (initial set, tie-breaks)")
    p.add_argument("--strategies", default=",".join(STRATEGY_ORDER), help="comma-separated strategies")
    p.add_argument("--ensemble", type=int, default=5, help="bootstrap members for disagreement")
    p.add_argument("--C", type=float, default=10.0, help="logistic regression C (same for all strategies)")
    p.add_argument("--heldout", action="store_true", help="also measure recall on held-out families")
    p.add_argument("--full-curves", action="store_true", help="do not stop at the target (curves to max-labels)")
    p.add_argument("--world-seed", type=int, default=0)
    p.add_argument("--out", default="runs/active_learning.json", help="JSON of learning curves")
    p.add_argument("--quick", action="store_true", help="small sizes for a ~30 s run")
    a = p.parse_args(argv)
    if a.quick:
        a.pool, a.test, a.max_labels, a.seeds, a.target = 50_000, 40_000, 5000, 2, 0.9
    return a


def build_data(a: argparse.Namespace) -> dict[str, Any]:
    """Sample and featurise the pool, the test set (and the held-out-family test set)."""
    world = StoryWorld(seed=a.world_seed)
    fams = heldout = None
    if a.heldout:
        split = world.split_families()
        fams, heldout = list(split.train), list(split.heldout)
    pool = world.sample(a.pool, seed=1001, families=fams)
    test = world.sample(a.test, seed=2002, families=fams)
    data: dict[str, Any] = {
        "X_pool": hashing.featurize(pool.prompts, pool.completions),
        "y_pool": np.asarray(pool.injurious, dtype=bool),
        "X_test": hashing.featurize(test.prompts, test.completions),
        "y_test": np.asarray(test.injurious, dtype=bool),
    }
    if heldout is not None:
        ho = world.sample(a.test, seed=3003, families=heldout)
        data["X_ho"] = hashing.featurize(ho.prompts, ho.completions)
        data["y_ho"] = np.asarray(ho.injurious, dtype=bool)
    return data


def make_evaluate(data: dict[str, Any], budget: float) -> Any:
    """``evaluate(model)``: test recall at the threshold rejecting ``budget`` of all test snippets."""

    def evaluate(model: hashing.HashingModel) -> dict[str, float]:
        s = hashing.score(model, data["X_test"])
        t = threshold_at_rejection(s, budget)
        out = {"recall": recall_at(s[data["y_test"]], t)}
        if "X_ho" in data:
            out["recall_heldout"] = recall_at(hashing.score(model, data["X_ho"])[data["y_ho"]], t)
        return out

    return evaluate


def run_one(data: dict[str, Any], a: argparse.Namespace, strategy: str, seed: int) -> list[RoundRecord]:
    """One strategy from one seed's initial set until the target or the label budget."""
    y = data["y_pool"]
    initial = np.random.default_rng(seed).choice(len(y), a.initial, replace=False)
    loop: ActiveLearningLoop[hashing.HashingModel] = ActiveLearningLoop(
        data["X_pool"],
        fit=lambda X, lab: hashing.fit(X, lab, C=a.C),
        score=hashing.score,
        strategy=strategy,
        k=a.k,
        label=lambda idx: y[idx],
        evaluate=make_evaluate(data, a.budget),
        rejection_budget=a.budget,
        ensemble=a.ensemble,
        seed=seed,
    )
    stop = None if a.full_curves else (lambda r: r.metrics["recall"] >= a.target)
    return loop.run(initial, max_labels=a.max_labels, stop=stop)


def labels_to_target(history: list[RoundRecord], target: float) -> int | None:
    """Labels held when test recall first reached ``target`` (``None`` if it never did)."""
    for r in history:
        if r.metrics["recall"] >= target:
            return r.n_labelled
    return None


def summarise(results: dict[str, list[list[RoundRecord]]], a: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Mean labels-to-target per strategy (runs that never reach it count as ``max_labels``, a lower bound)."""
    summary: dict[str, dict[str, Any]] = {}
    for strat, runs in results.items():
        hits = [labels_to_target(h, a.target) for h in runs]
        filled = [h if h is not None else a.max_labels for h in hits]
        summary[strat] = {
            "labels_to_target": hits,
            "mean": float(np.mean(filled)),
            "censored": sum(h is None for h in hits),
            "positives_per_label": float(
                np.mean([h[-1].n_positive / h[-1].n_labelled for h in runs])
            ),
        }
    base = summary.get("random", {}).get("mean")
    for s in summary.values():
        s["ratio_to_random"] = s["mean"] / base if base else None
    return summary


def curves_json(results: dict[str, list[list[RoundRecord]]], seeds: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Learning curves for the HTML report: labels vs recall per strategy and seed."""
    out: dict[str, list[dict[str, Any]]] = {}
    for strat, runs in results.items():
        out[strat] = []
        for seed, h in zip(seeds, runs):
            c: dict[str, Any] = {
                "seed": seed,
                "labels": [r.n_labelled for r in h],
                "positives": [r.n_positive for r in h],
                "recall": [r.metrics["recall"] for r in h],
            }
            if h and "recall_heldout" in h[0].metrics:
                c["recall_heldout"] = [r.metrics["recall_heldout"] for r in h]
            out[strat].append(c)
    return out


def print_table(summary: dict[str, dict[str, Any]], a: argparse.Namespace) -> None:
    """The labels-to-target table."""
    print(
        f"\nlabels to reach recall >= {a.target} at {a.budget:.0%} rejection of all test snippets "
        f"(start {a.initial} random labels, rounds of {a.k}, cap {a.max_labels}; {a.seeds} seeds)"
    )
    print(f"{'strategy':<14}{'per seed':<28}{'mean':>8}{'vs random':>11}{'pos/label':>11}")
    for strat, s in summary.items():
        per = ", ".join(str(h) if h is not None else f">{a.max_labels}" for h in s["labels_to_target"])
        mean = f"{'>=' if s['censored'] else ''}{s['mean']:.0f}"
        ratio = f"{s['ratio_to_random']:.2f}" if s["ratio_to_random"] is not None else "-"
        print(f"{strat:<14}{per:<28}{mean:>8}{ratio:>11}{s['positives_per_label']:>11.3f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON; returns the JSON payload."""
    a = parse_args(argv)
    t0 = time.time()
    data = build_data(a)
    print(
        f"pool {a.pool} ({data['y_pool'].mean():.1%} injurious), test {a.test}; "
        f"features {data['X_pool'].shape[1]}; built in {time.time() - t0:.1f}s"
    )
    strategies = [s.strip() for s in a.strategies.split(",") if s.strip()]
    seeds = list(range(a.seeds))
    results: dict[str, list[list[RoundRecord]]] = {}
    for strat in strategies:
        t1 = time.time()
        results[strat] = [run_one(data, a, strat, seed) for seed in seeds]
        print(f"  {strat}: {time.time() - t1:.1f}s")
    summary = summarise(results, a)
    print_table(summary, a)
    if "X_ho" in data:
        for strat, runs in results.items():
            ho = [h[-1].metrics["recall_heldout"] for h in runs]
            print(f"  {strat}: recall on held-out families at the end of each run {np.round(ho, 3).tolist()}")
    payload = {
        "config": {k: v for k, v in vars(a).items()},
        "pool_positive_rate": float(data["y_pool"].mean()),
        "summary": summary,
        "curves": curves_json(results, seeds),
        "seconds": time.time() - t0,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1))
    print(f"\nwrote {out} in {time.time() - t0:.0f}s total")
    return payload




if __name__ == "__main__":
    main()
