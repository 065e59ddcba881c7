"""Reward and failure rate against sqrt(KL) over RL training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def plot_kl_curves(points: Sequence[dict[str, Any]], path: str | Path, filtered: dict[str, Any] | None = None) -> Path:
    """Two panels against sqrt(KL to the start): mean reward, and oracle failure rate with its interval.

    Args:
        points: one dict per checkpoint with ``sqrt_kl``, ``mean_reward``, ``failure`` (estimate,
            lower, upper) and ``step``.
        path: PNG to write.
        filtered: the filtered policy's point (``sqrt_kl``, ``mean_reward``, ``failure``), drawn as a star.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted(points, key=lambda p: p["step"])
    x = [p["sqrt_kl"] for p in pts]
    fig, (ax_r, ax_f) = plt.subplots(1, 2, figsize=(10, 4))
    ax_r.plot(x, [p["mean_reward"] for p in pts], "o-", label="RL checkpoints")
    est = [p["failure"]["estimate"] for p in pts]
    lo = [p["failure"]["estimate"] - p["failure"]["lower"] for p in pts]
    hi = [p["failure"]["upper"] - p["failure"]["estimate"] for p in pts]
    ax_f.errorbar(x, est, yerr=[lo, hi], fmt="o-", capsize=3, label="RL checkpoints")
    for p in pts:
        ax_r.annotate(str(p["step"]), (p["sqrt_kl"], p["mean_reward"]), fontsize=7, xytext=(3, 3),
                      textcoords="offset points")
    if filtered is not None:
        ax_r.plot([filtered["sqrt_kl"]], [filtered["mean_reward"]], "*", ms=14, label="filtered policy")
        ax_f.plot([filtered["sqrt_kl"]], [filtered["failure"]["estimate"]], "*", ms=14, label="filtered policy")
    ax_r.set(xlabel="sqrt(KL to start policy)  [sqrt(nats)]", ylabel="mean reward (log acceptance)",
             title="reward vs sqrt(KL)")
    ax_f.set(xlabel="sqrt(KL to start policy)  [sqrt(nats)]", ylabel="oracle failure rate", title="failure vs sqrt(KL)")
    ax_f.set_yscale("symlog", linthresh=1e-3)
    for ax in (ax_r, ax_f):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
