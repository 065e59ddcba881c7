"""Exports: the label history as JSONL or a zipped Hugging Face dataset, comparisons for the judge."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from nines.app import pairwise
from nines.app import schema as t
from nines.app.db import Database, utc
from nines.app.errors import NotFound
from nines.app.task_labels import display_rows


def label_rows(conn: Connection, dataset: str | None = None) -> Iterator[dict[str, Any]]:
    """Every label in the history (one row per label, so several per item when several labellers).

    Args:
        dataset: only snippets in this dataset.

    Raises:
        NotFound: the dataset does not exist.
    """
    lt, s = t.labels_table, t.snippets_table
    stmt = (sa.select(lt.c.id, lt.c.snippet_id, lt.c.label, lt.c.labeller, lt.c.note, lt.c.created_at, s.c.prompt,
                      s.c.completion, s.c.source, s.c.split, s.c.label.label("current_label"), s.c.prompt_id)
            .join(s, s.c.id == lt.c.snippet_id).order_by(lt.c.id))
    if dataset is not None:
        d, ds = t.datasets_table, t.dataset_snippets_table
        did = conn.execute(sa.select(d.c.id).where(d.c.name == dataset)).scalar()
        if did is None:
            raise NotFound(f"no dataset named {dataset!r}")
        stmt = stmt.where(lt.c.snippet_id.in_(sa.select(ds.c.snippet_id).where(ds.c.dataset_id == did)))
    for r in conn.execute(stmt):
        # The prompt's id travels too, so `nines evaluate --labels` clusters by prompt without its text.
        yield {"label_id": r.id, "snippet_id": r.snippet_id, "prompt_id": r.prompt_id, "prompt": r.prompt,
               "completion": r.completion,
               "label": r.label, "labeller": r.labeller, "note": r.note, "source": r.source, "split": r.split,
               "current_label": r.current_label, "created_at": utc(r.created_at).isoformat()}


def _named(rows: Iterator[dict[str, Any]], task: Any) -> Iterator[dict[str, Any]]:
    return rows if task is None else display_rows(rows, task)


def labels_jsonl(db: Database, dataset: str | None = None, task: Any = None) -> bytes:
    """The label rows as JSONL bytes (read in one transaction, so the file is a consistent snapshot).

    Args:
        dataset: only snippets in this dataset.
        task: write ``label``/``current_label`` under this :class:`~nines.tasks.TaskConfig`'s names
            (``unsafe`` for ``injurious``); ``None`` writes the stored values, as always.
    """
    with db.read() as conn:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in _named(label_rows(conn, dataset), task)]
    return "".join(lines).encode("utf-8")


def labels_hf_zip(db: Database, dataset: str | None = None, task: Any = None) -> bytes:
    """The label rows as a Hugging Face ``datasets`` folder (``save_to_disk``), zipped.

    Unzip it and ``datasets.load_from_disk(folder)`` gives the dataset back. ``task`` as in
    :func:`labels_jsonl`.
    """
    from datasets import Dataset

    with db.read() as conn:
        rows = list(_named(label_rows(conn, dataset), task))
    columns = ("label_id", "snippet_id", "prompt_id", "prompt", "completion", "label", "labeller", "note", "source",
               "split", "current_label", "created_at")
    data = {c: [r[c] for r in rows] for c in columns}
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "labels"
        Dataset.from_dict(data).save_to_disk(str(folder))
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zf.write(path, str(path.relative_to(Path(tmp))))
    return buf.getvalue()


def comparisons_jsonl(db: Database) -> bytes:
    """Pairwise comparisons as JSONL that :class:`nines.judge.recorded.RecordedJudge` reads."""
    with db.read() as conn:
        return "".join(pairwise.export_jsonl(conn)).encode("utf-8")


def recorded_judge(db: Database, path: str | Path) -> Any:
    """Write the comparisons to ``path`` and return a ``RecordedJudge`` replaying them.

    The win-rate estimators take any judge, so human comparisons plug in where a model judge
    would: ``naive_winrate(..., judge=recorded_judge(db, "pairs.jsonl"))``.
    """
    from nines.judge.recorded import RecordedJudge

    Path(path).write_bytes(comparisons_jsonl(db))
    return RecordedJudge(path)
