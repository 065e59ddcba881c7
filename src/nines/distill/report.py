"""The distillation section of the demo's HTML report."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from nines.distill.table import COLUMNS, rows_of


def distill_section(results: dict[str, Any] | None, run_dir: str | Path | None = None) -> str:
    """HTML: the policy comparison table, the reward/failure-vs-sqrt(KL) plot and the goal check."""
    if not results or "policies" not in results:
        return ""
    pols = list(results["policies"].values())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows_of(pols))
    parts = [
        "<h2>Distillation: one generator that has internalised the filter</h2>",
        "<p class='note'>Every policy continues the same fresh StoryWorld prompts. <i>unfiltered</i> is the "
        "starting policy; <i>filtered</i> is it with rejection sampling; the distilled policies make one "
        "generator call per completion. Invalid = text StoryWorld cannot produce (no oracle label; the worst "
        "case counts it as a failure and the rater gives it quality 0, so gibberish loses the win rate).</p>",
        f"<table><tr>{head}</tr>{body}</table>",
        _goal(results["policies"]),
    ]
    png = Path(run_dir) / "kl_curves.png" if run_dir is not None else None
    if png is not None and png.is_file():
        b64 = base64.b64encode(png.read_bytes()).decode()
        parts.append(f'<img alt="reward and failure rate against sqrt(KL)" src="data:image/png;base64,{b64}" '
                     'style="max-width:100%">')
    return "".join(parts)


def goal_check(policies: dict[str, Any], name: str = "RL distilled") -> dict[str, Any] | None:
    """Does ``name`` reach the filtered policy's failure rate (within its interval) at no worse win rate?"""
    if name not in policies or "filtered" not in policies:
        return None
    d, f = policies[name], policies["filtered"]
    return {
        "policy": name,
        "failure_within_filtered_interval": d["failure"]["estimate"] <= f["failure"]["upper"],
        "winrate_no_worse": d["winrate"]["estimate"] >= f["winrate"]["lower"],
        "one_call_per_completion": d["generator_calls"] <= 1.0,
    }


def _goal(policies: dict[str, Any]) -> str:
    lines = []
    for name in ("RL distilled", "best-of-n distilled"):
        g = goal_check(policies, name)
        if g is None:
            continue
        ok = g["failure_within_filtered_interval"] and g["winrate_no_worse"]
        lines.append(f"<li><b>{html.escape(name)}</b>: failure rate within the filtered policy's interval: "
                     f"{'yes' if g['failure_within_filtered_interval'] else 'no'}; win rate no worse than "
                     f"filtered's lower bound: {'yes' if g['winrate_no_worse'] else 'no'} "
                     f"({'goal met' if ok else 'goal not met'})</li>")
    return f"<ul>{''.join(lines)}</ul>" if lines else ""
