"""The distillation comparison as a rich table (CLI) and as Markdown (README, report)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from nines.distill.measure import PolicyFigures

COLUMNS = ("policy", "oracle failure % [95% CI]", "invalid", "worst case", "clf-flagged", "win rate [95% CI]",
           "KL nats", "gen/compl", "clf/compl")


def _pct(iv: dict[str, Any]) -> str:
    return f"{100 * iv['estimate']:.3f} [{100 * iv['lower']:.3f}, {100 * iv['upper']:.3f}] ({iv['k']}/{iv['n']})"


def rows_of(policies: Sequence[PolicyFigures | dict[str, Any]]) -> list[list[str]]:
    """Table cells, one row per policy (accepts figures or their ``to_dict``)."""
    out = []
    for p in policies:
        d = p.to_dict() if isinstance(p, PolicyFigures) else p
        wr = d["winrate"]
        out.append([
            d["name"], _pct(d["failure"]), f"{d['invalid'] / max(d['n'], 1):.2%}",
            f"{d['failure_worst_case']['estimate']:.3%}", f"{d['classifier_flagged']['estimate']:.2%}",
            f"{wr['estimate']:.3f} [{wr['lower']:.3f}, {wr['upper']:.3f}]",
            f"{d['kl']:.3f}±{d['kl_stderr']:.3f}", f"{d['generator_calls']:.3f}", f"{d['classifier_calls']:.3f}",
        ])
    return out


def print_table(console: Console, policies: Sequence[PolicyFigures | dict[str, Any]]) -> None:
    """Print the comparison (at full width when the output is a file or a pipe, not a terminal)."""
    if not console.is_terminal:
        console = Console(width=220, file=console.file)
    table = Table(title="distillation: one generator call per completion vs the filter")
    for c in COLUMNS:
        table.add_column(c, justify="left" if c == "policy" else "right")
    for row in rows_of(policies):
        table.add_row(*row)
    console.print(table)


def markdown_table(policies: Sequence[PolicyFigures | dict[str, Any]]) -> str:
    """The comparison as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows_of(policies)]
    return "\n".join(lines)
