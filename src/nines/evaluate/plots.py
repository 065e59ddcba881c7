"""Matplotlib figures for the report, returned as base64 PNGs to embed in one HTML file."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: the report is written on machines without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nines.stats.binomial import Interval  # noqa: E402


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def score_histogram(val_scores: np.ndarray, val_labels: np.ndarray, clean_scores: np.ndarray,
                    threshold: float, *, positive: str = "injurious", negative: str = "safe") -> str:
    """Histogram of calibrated scores by label (the task's names), with the threshold."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    bins = list(np.linspace(0, 1, 41))
    y = np.asarray(val_labels).astype(bool)
    ax.hist(clean_scores, bins=bins, alpha=0.45, label=f"clean first samples (n={len(clean_scores)})", color="grey")
    ax.hist(val_scores[~y], bins=bins, histtype="step", lw=2, label=f"val {negative} (n={int((~y).sum())})", color="tab:blue")
    ax.hist(val_scores[y], bins=bins, histtype="step", lw=2, label=f"val {positive} (n={int(y.sum())})", color="tab:red")
    ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel(f"calibrated p({positive})")
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    return _png(fig)


def tradeoff_plot(rejection: np.ndarray, recall: np.ndarray, chosen_rejection: float, chosen_recall: float | None,
                  budget: float, *, positive: str = "injurious") -> str:
    """Recall on positive (e.g. injurious) snippets vs rejection rate of clean first samples."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(rejection, recall, color="tab:purple")
    if chosen_recall is not None:
        ax.plot([chosen_rejection], [chosen_recall], "o", color="k", label="chosen threshold")
    ax.axvline(budget, color="grey", ls=":", label=f"rejection budget {budget:.0%}")
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("share of clean first samples rejected")
    ax.set_ylabel(f"recall on val {positive}")
    ax.legend(fontsize=8)
    return _png(fig)


def failure_rate_plot(names: Sequence[str], intervals: Sequence[Interval], *, positive: str = "injurious") -> str:
    """Failure rates with their confidence intervals, log scale (zero failures shows its upper bound)."""
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.55 * len(names)))
    ys = np.arange(len(names))
    for yv, iv in zip(ys, intervals):
        lo = max(iv.lower, 1e-7)
        ax.plot([lo, iv.upper], [yv, yv], color="k", lw=2)
        if iv.estimate > 0:
            ax.plot([iv.estimate], [yv], "o", color="tab:red")
        else:
            ax.plot([iv.upper], [yv], "<", color="tab:green")
    ax.set_yticks(ys, [f"{n}  ({iv.k}/{iv.n})" for n, iv in zip(names, intervals)], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"failure rate ({positive} completions returned), 95% exact interval")
    ax.invert_yaxis()
    return _png(fig)


def training_plot(history: Sequence[dict[str, Any]]) -> str:
    """Training loss (smoothed) and validation recall at the rejection budget."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    steps = np.array([h["step"] for h in history])
    loss = np.array([h["loss"] for h in history])
    if len(loss):
        k = max(1, len(loss) // 30)
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1:], smooth, color="tab:blue", label="train loss (smoothed)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ev = [h for h in history if "val_recall_at_budget" in h]
    if ev:
        ax2 = ax.twinx()
        ax2.plot([h["step"] for h in ev], [h["val_recall_at_budget"] for h in ev], "o-", color="tab:red",
                 label="val recall at budget")
        ax2.set_ylabel("val recall at budget")
        ax2.set_ylim(0, 1.02)
        ax2.legend(loc="center right", fontsize=8)
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def failure_vs_threshold_plot(rel: dict[str, Any], threshold: float, direct: Interval | None = None) -> str:
    """Reweighted filtered failure rate (with interval) against the threshold, chosen threshold marked."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    t = np.asarray(rel["thresholds"])
    est, lo, hi = (np.asarray(rel[k]) for k in ("estimate", "lower", "upper"))
    ax.fill_between(t, np.maximum(lo, 1e-6), np.maximum(hi, 1e-6), alpha=0.25, color="tab:blue",
                    label="95% interval (reweighted unfiltered labels)")
    ax.plot(t, np.maximum(est, 1e-6), "o-", color="tab:blue", ms=3, label="estimate")
    ax.axvline(threshold, color="k", ls="--", label=f"chosen threshold {threshold:.3g}")
    if direct is not None:
        err = [[max(direct.estimate - direct.lower, 0)], [direct.upper - direct.estimate]]
        ax.errorbar([threshold], [max(direct.estimate, 1e-6)], yerr=err, fmt="s", color="tab:red",
                    capsize=4, label="direct filter run (oracle)")
    ax.set_yscale("log")
    ax.set_xlabel("threshold (calibrated p)")
    ax.set_ylabel("filtered failure rate")
    ax.legend(fontsize=7)
    return _png(fig)


def winrate_plot(names: Sequence[str], winrates: Sequence[dict[str, Any]]) -> str:
    """Win rate of filtered vs unfiltered with intervals; 0.5 means the filter costs nothing in quality."""
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.5 * len(names)))
    ys = np.arange(len(names))
    for yv, w in zip(ys, winrates):
        ax.plot([w["lower"], w["upper"]], [yv, yv], color="k", lw=2)
        ax.plot([w["estimate"]], [yv], "o", color="tab:purple")
    ax.axvline(0.5, color="grey", ls=":")
    ax.set_yticks(ys, [f"{n}  (n={w['n_prompts']}, {w['judge_calls']} judge calls)" for n, w in zip(names, winrates)],
                  fontsize=8)
    ax.set_xlabel("P(filtered beats unfiltered), ties = 1/2")
    ax.invert_yaxis()
    return _png(fig)


def active_learning_plot(curves: dict[str, list[tuple[float, float]]], target: float | None) -> str:
    """Recall at the rejection budget against labels used, one line per strategy (mean over seeds)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, pts in curves.items():
        xs, ys = zip(*pts) if pts else ((), ())
        ax.plot(xs, ys, "-", label=name)
    if target is not None:
        ax.axhline(target, color="grey", ls=":", label=f"target recall {target:.2f}")
    ax.set_xlabel("labels used")
    ax.set_ylabel("recall at rejection budget")
    ax.legend(fontsize=8)
    return _png(fig)
