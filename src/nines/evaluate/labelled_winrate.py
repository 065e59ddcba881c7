"""The filtered-vs-unfiltered win rate from recorded pairwise comparisons, by the coupled design.

The coupled design (:mod:`nines.evaluate.winrate`) needs a comparison only where the filter
rejected a prompt's first unfiltered sample; where it accepted it, both policies return the same
completion and the prompt counts exactly 1/2. A plan (:func:`nines.evaluate.labelling_plan.coupled_pairs`)
queues just those pairs, each task's ``meta`` carrying the plan's counts (prompts, accepted first
samples, pairs, refused), so the comparisons alone give

    W = ( K * 1/2 + sum over the M compared pairs of the outcome ) / (K + M)

with the t interval of :func:`nines.stats.winrate.winrate_from_outcomes`. When a pair has several
raters' outcomes the first is used (any one is unbiased); when pairs still lack a comparison no
figure is given, only how many more comparisons are needed (skipped pairs need not be random).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nines.data.io import DataError, iter_jsonl_rows
from nines.stats.winrate import winrate_from_outcomes

__all__ = ["coupled_winrate_from_comparisons", "read_comparisons"]

_WORDS = {"first": 1.0, "second": 0.0, "tie": 0.5}


def read_comparisons(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Comparison rows from the app's export (``/api/admin/export/comparisons``) or any JSONL of
    ``{"prompt", "first", "second", "outcome", "meta"}`` rows.

    Raises:
        DataError: a bad row, naming the file, line and field.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such comparisons file (export it from the app's admin page)")
    out = []
    for line, row in iter_jsonl_rows(p):
        for key in ("prompt", "first", "second"):
            if not isinstance(row.get(key), str):
                raise DataError(p, line, key, "is missing or not a string", "give each comparison its texts")
        o = row.get("outcome")
        o = _WORDS.get(o.lower()) if isinstance(o, str) else o
        if isinstance(o, bool) or o not in (0, 0.5, 1):
            raise DataError(p, line, "outcome", f"{row.get('outcome')!r} is not 1, 0, 0.5 or first/second/tie",
                            "fix the row or remove it")
        meta = row.get("meta") or {}
        if not isinstance(meta, dict):
            raise DataError(p, line, "meta", "is not an object", "fix the row or remove it")
        out.append({**row, "outcome": float(o), "meta": meta})
    return out


def _one_plan(rows: list[Mapping[str, Any]], confidence: float) -> dict[str, Any]:
    meta = rows[0]["meta"]
    k, m, refused = int(meta["plan_accepted_first"]), int(meta["plan_pairs"]), int(meta["plan_refused"])
    first: dict[tuple[str, str, str], float] = {}
    for r in rows:
        first.setdefault((r["prompt"], r["first"], r["second"]), float(r["outcome"]))
    answered = len(first)
    base = {"plan": meta.get("plan"), "design": "coupled", "prompts": int(meta["plan_prompts"]),
            "accepted_first": k, "pairs": m, "compared": answered, "refused": refused,
            "extra_ratings": len(rows) - answered}
    if answered < m:
        return {**base, "status": "too_few", "more_comparisons": m - answered,
                "reason": f"{m - answered:,} of the {m:,} queued pairs have no comparison yet; compare them "
                          "(skipped pairs need not be a random subset, so no partial figure is given)"}
    if k + answered < 2:
        return {**base, "status": "too_few", "more_comparisons": None,
                "reason": "fewer than two prompts in the plan: plan more prompts"}
    wr = winrate_from_outcomes([0.5] * k + list(first.values()), confidence, "t", design="coupled",
                               judge_calls=answered, n_refused=refused)
    return {**base, **wr.to_dict(), "status": "estimate", "judge": "recorded comparisons (people)"}


def coupled_winrate_from_comparisons(comparisons: Iterable[Mapping[str, Any]],
                                     confidence: float = 0.95) -> dict[str, Any]:
    """The coupled win rate per plan from comparison rows (see the module docstring).

    Returns:
        ``{"present": bool, "plans": {name: section}, "ignored": n, "reason": ...}``; ``present`` is
        False (with the reason) when no comparison belongs to a coupled-design plan.
    """
    by_plan: dict[str, list[Mapping[str, Any]]] = {}
    ignored = 0
    needed = ("plan_accepted_first", "plan_pairs", "plan_refused", "plan_prompts")
    for r in comparisons:
        meta = r.get("meta") or {}
        if meta.get("design") != "coupled" or any(k not in meta for k in needed):
            ignored += 1
            continue
        by_plan.setdefault(str(meta.get("plan")), []).append(r)
    if not by_plan:
        why = (f"{ignored} comparisons, none from a coupled-design plan (their design is unknown, so they "
               "cannot be weighted); queue the pairs `nines evaluate --plan` writes" if ignored
               else "no pairwise comparisons in the source; queue the pairs `nines evaluate --plan` writes")
        return {"present": False, "plans": {}, "ignored": ignored, "reason": why}
    return {"present": True, "plans": {name: _one_plan(rows, confidence) for name, rows in by_plan.items()},
            "ignored": ignored}
