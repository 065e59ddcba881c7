"""Does the reweighted estimate of `nines evaluate --labels` cover the exact filtered failure rate?

Run (in the project venv, about 10 minutes on 2 cores)::

    .venv/bin/python benchmarks/labels_coverage.py

StoryWorld's exact scenario stands behind the Generator and Classifier protocols (the tests'
``labelled_sim``: exact probabilities, exact oracle labels, a synthetic classifier score), so the
exact filtered failure rate at the threshold is known. Each run labels random unfiltered samples,
asks the generator for 8 scored samples per labelled prompt, and calls
:func:`nines.evaluate.labelled.reliability_from_labels`, exactly as the CLI does. The table gives,
per label budget, how often the truth is under the reported upper end (which is floored at the
Korn-Graubard bound) against the plain normal one (the named baseline: estimate + z se, the
interval before the floor), and inside the two-sided interval.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

# The simulation's Generator and Classifier live with the tests that use them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "evaluate"))
from labelled_sim import THRESHOLD, ScenarioClassifier, ScenarioGenerator, labelled_rows, scenario  # noqa: E402

from nines.evaluate.labelled import LabelsConfig, reliability_from_labels  # noqa: E402


def coverage(n_labels: int, runs: int, seed: int, truth: float, sc: Any, gen: Any, clf: Any) -> dict[str, float]:
    rows = []
    for s in range(seed, seed + runs):
        r = reliability_from_labels(labelled_rows(sc, n_labels, s), clf, gen,
                                    LabelsConfig(samples_per_prompt=8, seed=10_000 + s))
        at = r.at_threshold
        # With no accepted failure both report the zero-failure bound; the normal one has zero width.
        normal = at["estimate"] + 1.96 * at["se"] if at["n_failures"] > 0 else at["upper"]
        rows.append((at["n_failures"], truth <= normal, truth <= at["upper"],
                     at["lower"] <= truth <= at["upper"], at["upper"]))
    a = np.array(rows, dtype=float)
    return {"failures": a[:, 0].mean(), "normal": a[:, 1].mean(), "reported": a[:, 2].mean(),
            "two_sided": a[:, 3].mean(), "upper_over_truth": float(np.median(a[:, 4])) / truth}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", default="800,2000,6000", help="label budgets, comma-separated")
    ap.add_argument("--runs", type=int, default=150, help="simulated runs per budget")
    args = ap.parse_args()
    sc = scenario()
    gen, clf, truth = ScenarioGenerator(sc), ScenarioClassifier(sc), sc.failure_rate(THRESHOLD)
    print(f"exact filtered failure rate at t = {THRESHOLD}: {truth:.5f}; {args.runs} runs per budget", flush=True)
    print("\n| labels | mean accepted failures | upper end holds: normal (baseline) | upper end holds: reported "
          "| two-sided reported | median upper / truth |\n|---|---|---|---|---|---|")
    for i, n in enumerate(int(x) for x in args.labels.split(",")):
        c = coverage(n, args.runs, 1000 * i, truth, sc, gen, clf)
        print(f"| {n:,} | {c['failures']:.1f} | {c['normal']:.3f} | {c['reported']:.3f} | {c['two_sided']:.3f} "
              f"| {c['upper_over_truth']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
