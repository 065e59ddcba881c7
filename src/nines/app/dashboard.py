"""What the admin dashboard shows: datasets and labels, agreement, classifiers, estimates, finds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from nines.app import adjudication, labelling, pairwise, redteam
from nines.app import schema as t
from nines.app.settings import AppSettings
from nines.data.store_tasks import LEGACY_TASK

#: How deep under ``runs_dir`` to look for run outputs (runs/<name>/classifier/nines.json is depth 3).
SCAN_DEPTH = 4


def _entry(name: str, task: str | None) -> dict[str, Any]:
    return {"dataset": name, "task": task, "snippets": 0, "injurious": 0, "safe": 0, "unsure": 0, "unlabelled": 0}


def dataset_counts(conn: Connection) -> list[dict[str, Any]]:
    """Per dataset: its task, snippets, and how many have each current label (keyed by stored value).

    ``task`` is the recorded task; a dataset from before tasks that holds labels shows ``injury``
    (what its labels answer), and one with neither shows ``None`` (the next task to use it claims it).
    """
    d, ds, s = t.datasets_table, t.dataset_snippets_table, t.snippets_table
    rows = conn.execute(
        sa.select(d.c.name, d.c.task, s.c.label, sa.func.count().label("n"))
        .join(ds, ds.c.dataset_id == d.c.id).join(s, s.c.id == ds.c.snippet_id)
        .group_by(d.c.name, d.c.task, s.c.label).order_by(d.c.name)
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(r.name, _entry(r.name, r.task))
        entry["snippets"] += r.n
        entry[r.label or "unlabelled"] += r.n
    for name, task in conn.execute(sa.select(d.c.name, d.c.task)):
        out.setdefault(name, _entry(name, task))
    for entry in out.values():
        if entry["task"] is None and entry["snippets"] > entry["unlabelled"]:
            entry["task"] = LEGACY_TASK
    return sorted(out.values(), key=lambda e: e["dataset"])


def label_totals(conn: Connection) -> dict[str, int]:
    """Labels given in the app (live ones) and in the whole label history."""
    s, lt = t.submissions, t.labels_table
    return {
        "app_labels": int(conn.execute(sa.select(sa.func.count()).where(s.c.undone_at.is_(None))).scalar_one()),
        "history": int(conn.execute(sa.select(sa.func.count()).select_from(lt)).scalar_one()),
    }


def _under(root: Path, name: str) -> list[Path]:
    found: list[Path] = []
    for depth in range(SCAN_DEPTH):
        found += root.glob("/".join(["*"] * depth + [name]))
    return found


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a half-written or foreign file must not break the dashboard
    return data if isinstance(data, dict) else None


def classifiers(settings: AppSettings) -> list[dict[str, Any]]:
    """Classifier versions found (the served one first, then newest first): threshold and metrics."""
    paths: list[Path] = []
    if settings.classifier_dir:
        paths.append(Path(settings.classifier_dir) / "nines.json")
    if settings.runs_dir and Path(settings.runs_dir).is_dir():
        paths += sorted(_under(Path(settings.runs_dir), "nines.json"), key=lambda p: -p.stat().st_mtime)
    out, seen = [], set()
    for p in paths:
        if p.resolve() in seen or not p.is_file():
            continue
        seen.add(p.resolve())
        meta = _read_json(p)
        if meta is None:
            continue
        raw = {k: v.get("estimate") if isinstance(v, dict) else v for k, v in (meta.get("metrics") or {}).items()}
        metrics = {k: v for k, v in raw.items() if isinstance(v, (int, float, str))}
        out.append({"path": str(p.parent), "served": bool(settings.classifier_dir) and p.parent == Path(
            str(settings.classifier_dir)), "threshold": meta.get("threshold"), "temperature": meta.get("temperature"),
            "data_fingerprint": meta.get("data_fingerprint"), "metrics": metrics})
    return out


def _nearest(values: list[Any], target: float) -> int | None:
    nums = [(abs(float(v) - target), i) for i, v in enumerate(values) if isinstance(v, (int, float))]
    return min(nums)[1] if nums else None


def _reliability(summary: dict[str, Any]) -> dict[str, Any] | None:
    rel = (summary.get("measures") or {}).get("reliability")
    threshold = (summary.get("calibration") or {}).get("threshold")
    if not isinstance(rel, dict) or not isinstance(threshold, (int, float)):
        return None
    i = _nearest(rel.get("thresholds") or [], float(threshold))
    if i is None:
        return None
    pick = {k: rel[k][i] for k in ("estimate", "lower", "upper") if isinstance(rel.get(k), list) and i < len(rel[k])}
    return {"threshold": rel["thresholds"][i], "method": rel.get("method"), "n_prompts": rel.get("n_prompts"), **pick}


def latest_estimates(settings: AppSettings) -> dict[str, Any] | None:
    """Reliability at the calibrated threshold and the win rates of the newest ``summary.json``."""
    if not settings.runs_dir or not Path(settings.runs_dir).is_dir():
        return None
    for path in sorted(_under(Path(settings.runs_dir), "summary.json"), key=lambda p: -p.stat().st_mtime):
        summary = _read_json(path)
        if summary is None:
            continue
        winrate = (summary.get("measures") or {}).get("winrate")
        return {"path": str(path), "reliability": _reliability(summary),
                "winrate": winrate if isinstance(winrate, dict) else None}
    return None


def overview(conn: Connection, settings: AppSettings) -> dict[str, Any]:
    """Everything the dashboard shows, JSON-ready."""
    queues = labelling.list_queues(conn, active_only=False)
    for q in queues:
        agree = labelling.queue_agreement(conn, q["id"], max_disagreements=0)
        q["agreement"] = {k: agree[k] for k in ("items", "pairwise", "alpha", "unanimous")}
    return {
        "task": settings.task_info(),
        "datasets": dataset_counts(conn),
        "labels": label_totals(conn),
        "queues": queues,
        "ties": adjudication.awaiting(conn),
        "classifiers": classifiers(settings),
        "estimates": latest_estimates(settings),
        "pairwise": {**pairwise.counts(conn), "first_win_rate": pairwise.first_win_rate(conn)},
        "finds": redteam.recent(conn),
    }
