"""Rows of the store's tables: validation of what is written, and rows back into records.

Every check that guards a write lives here, so :class:`nines.data.store.Store` refuses the
same bad input whichever method (or app code path) the write comes through.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from nines.data.record import LABELS, SPLITS, Label, Snippet
from nines.data.schema import PROMPT_ID_MAX, dataset_snippets_table, datasets_table, snippets_table

__all__ = [
    "LabelRecord", "check_dataset_name", "check_split", "content_hash", "filtered", "label_record_from",
    "label_value", "now", "row_for", "snippet_from", "utc",
]


@dataclass(frozen=True)
class LabelRecord:
    """One label a labeller gave a snippet (a row of the ``labels`` table).

    Attributes:
        id: the row's primary key.
        snippet_id: the labelled snippet.
        label: what was said.
        labeller: who said it.
        note: an optional free-text reason.
        created_at: when it was recorded (UTC).
    """

    id: int
    snippet_id: int
    label: Label
    labeller: str | None
    note: str | None
    created_at: datetime


def content_hash(prompt: str, completion: str) -> str:
    """The SHA-256 hex digest identifying a (prompt, completion) pair, for finding duplicates."""
    return hashlib.sha256(f"{prompt}\x1f{completion}".encode()).hexdigest()


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC (SQLite hands back naive datetimes that were stored as UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def label_value(label: Label | str | None, what: str) -> str | None:
    """The label's string value, ``None`` for ``None``.

    Raises:
        ValueError: not one of :data:`nines.data.record.LABELS`.
    """
    if label is None:
        return None
    value = label.value if isinstance(label, Label) else label
    if value not in LABELS:
        raise ValueError(f"{what}: label must be one of {', '.join(LABELS)} or None, got {label!r}")
    return value


def check_split(split: str | None, what: str) -> None:
    """Refuse a split that is not ``train``, ``val``, ``test`` or ``None`` (``ValueError``)."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"{what}: split must be one of {', '.join(SPLITS)} or None, got {split!r}")


def check_dataset_name(name: Any) -> None:
    """Refuse a dataset name that is not a non-empty string (``ValueError``)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"dataset name must be a non-empty string, got {name!r}")


def _check_text(snippet: Snippet, what: str) -> None:
    for name in ("prompt", "completion", "source"):
        if not isinstance(getattr(snippet, name), str):
            raise ValueError(f"{what}: {name} must be a string, got {getattr(snippet, name)!r}")
    pid = snippet.prompt_id
    if pid is not None and (not isinstance(pid, str) or len(pid) > PROMPT_ID_MAX):
        raise ValueError(f"{what}: prompt_id must be None or a string of at most {PROMPT_ID_MAX} characters, "
                         f"got {pid!r:.200}")


def _check_metadata(metadata: Any, what: str) -> None:
    if not isinstance(metadata, dict):
        raise ValueError(f"{what}: metadata must be a dict, got {type(metadata).__name__}")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: metadata is not JSON-serialisable ({exc})") from None


def row_for(snippet: Snippet, index: int, stamp: datetime) -> dict[str, Any]:
    """The ``snippets`` row for a snippet, after checking every field.

    Raises:
        ValueError: a field is invalid; the message names the snippet by position and prompt.
    """
    what = f"snippet #{index} ({snippet.prompt[:30]!r}...)" if isinstance(snippet.prompt, str) else f"snippet #{index}"
    _check_text(snippet, what)
    label = label_value(snippet.label, what)
    check_split(snippet.split, what)
    _check_metadata(snippet.metadata, what)
    return {
        "prompt": snippet.prompt,
        "completion": snippet.completion,
        "label": label,
        "source": snippet.source,
        "labeller": snippet.labeller,
        "split": snippet.split,
        "metadata": snippet.metadata,
        "created_at": stamp,
        "content_hash": content_hash(snippet.prompt, snippet.completion),
        "prompt_id": snippet.prompt_id,
    }


def snippet_from(row: sa.Row[Any]) -> Snippet:
    """A :class:`Snippet` from a ``snippets`` row."""
    m = row._mapping
    return Snippet(
        prompt=m["prompt"],
        completion=m["completion"],
        label=Label(m["label"]) if m["label"] is not None else None,
        source=m["source"],
        labeller=m["labeller"],
        split=m["split"],
        metadata=dict(m["metadata"] or {}),
        id=m["id"],
        prompt_id=m["prompt_id"],
    )


def label_record_from(row: sa.Row[Any]) -> LabelRecord:
    """A :class:`LabelRecord` from a ``labels`` row."""
    return LabelRecord(
        id=row.id, snippet_id=row.snippet_id, label=Label(row.label), labeller=row.labeller, note=row.note,
        created_at=utc(row.created_at),
    )


def filtered(
    stmt: sa.Select[Any],
    dataset: str | None,
    source: str | None,
    split: str | None,
    label: Label | str | None,
    labelled: bool | None,
) -> sa.Select[Any]:
    """``stmt`` narrowed to snippets matching every given filter (``None`` means "any").

    Raises:
        ValueError: ``label`` or ``split`` is not a valid value.
    """
    t = snippets_table
    if dataset is not None:
        member = (
            sa.select(dataset_snippets_table.c.snippet_id)
            .join(datasets_table, datasets_table.c.id == dataset_snippets_table.c.dataset_id)
            .where(datasets_table.c.name == dataset)
        )
        stmt = stmt.where(t.c.id.in_(member))
    if source is not None:
        stmt = stmt.where(t.c.source == source)
    if split is not None:
        check_split(split, "query")
        stmt = stmt.where(t.c.split == split)
    if label is not None:
        stmt = stmt.where(t.c.label == label_value(label, "query"))
    if labelled is not None:
        stmt = stmt.where(t.c.label.is_not(None) if labelled else t.c.label.is_(None))
    return stmt
