"""The per-round picture of adversarial training: attack cost up, failure rates not up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # headless: written on machines without a display
import matplotlib.pyplot as plt  # noqa: E402


def _rates(rounds: list[dict[str, Any]], key: str) -> tuple[list[float], list[float], list[float]]:
    est, lo, hi = [], [], []
    for r in rounds:
        f = (r.get(key) or {}).get("filtered")
        est.append(f["estimate"] if f else float("nan"))
        lo.append(f["estimate"] - f["lower"] if f else 0.0)
        hi.append(f["upper"] - f["estimate"] if f else 0.0)
    return est, lo, hi


def plot_rounds(summary: dict[str, Any], path: str | Path) -> Path:
    """Two panels over rounds: attack cost (queries per success, log scale) and filtered failure rates.

    Args:
        summary: ``rounds.json`` (:meth:`nines.adversarial.training.AdversarialSummary.to_dict`).
        path: PNG to write.
    """
    rounds = summary["rounds"]
    xs = [r["round"] for r in rounds]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for method in rounds[0]["cost"].get("by_method", {}) or [rounds[0]["cost"]["method"]]:
        ys = [r["cost"].get("by_method", {}).get(method, r["cost"])["queries_per_success_bound"] for r in rounds]
        a.plot(xs, ys, marker="o", label=method)
    a.set_yscale("log")
    a.set_xlabel("round")
    a.set_ylabel("classifier queries per successful attack")
    a.set_title("attack cost (fresh attack runs)")
    a.legend(fontsize=8)
    for key, colour in (("in_family", "tab:blue"), ("unseen", "tab:red")):
        est, lo, hi = _rates(rounds, key)
        b.errorbar(xs, est, yerr=[lo, hi], marker="o", capsize=3, color=colour, label=key.replace("_", "-"))
    b.set_xlabel("round")
    b.set_ylabel("filtered failure rate (95% CP)")
    b.set_title("failures through the filter (oracle)")
    b.legend(fontsize=8)
    b.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    for ax in (a, b):
        ax.set_xticks(xs)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
