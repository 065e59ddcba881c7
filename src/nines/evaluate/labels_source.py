"""Where a team's labels come from: a JSONL file of labelled unfiltered samples, or a store dataset.

SOURCE is one of:

* a JSONL file, one labelled sample per line: ``{"prompt_id", "prompt", "completion", "label"}``
  (``prompt_id`` optional: the prompt's content-hash id is used without it; ``label`` is the
  task's positive or negative label name, their stored values ``injurious``/``safe``,
  ``true``/``false`` or ``1``/``0``; ``unsure`` and null rows are skipped). Snippet files (:mod:`nines.data.io`, what ``nines generate``/``nines label`` and the
  store's export write) are this format, and extra fields (``score``, ``plan``) are kept. The web
  app's label export (rows with ``label_id`` and ``snippet_id``, one per label given) is read too:
  each snippet counts once, with its current (consensus) label, or the majority when it has none.
* a store URL with a dataset: ``sqlite:///nines.db#name`` or ``postgresql://user@host/db#name``; the
  dataset's snippets with a decided current label are the labelled samples.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nines.data.io import DataError, iter_jsonl_rows
from nines.generate.base import Prompt, text_prompt_id

__all__ = ["LabelSource", "LabelledRow", "is_store_url", "read_labels", "split_store_source"]

_FIX = "fix the row or remove it"
#: How the store keeps the two classes whatever the task calls them (``nines.data.record.Label``).
POSITIVE_STORED, NEGATIVE_STORED = "injurious", "safe"


@dataclass(frozen=True)
class LabelledRow:
    """One labelled unfiltered sample.

    Attributes:
        prompt_id: the prompt's id (rows sharing it are one cluster in the intervals).
        prompt: the prompt's text.
        completion: the labelled completion.
        label: True for a failure (the task's positive label), False otherwise.
        meta: other fields of the row (a plan's ``score`` and ``plan`` design facts, ...).
    """

    prompt_id: str
    prompt: str
    completion: str
    label: bool
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def as_prompt(self) -> Prompt:
        """The row's prompt as a :class:`~nines.generate.base.Prompt` (its id kept)."""
        return Prompt(self.prompt_id, self.prompt)


@dataclass
class LabelSource:
    """The labelled samples read from a SOURCE.

    Attributes:
        rows: the decided labelled samples, in source order.
        source: the SOURCE as given (a password in a URL is hidden).
        kind: ``jsonl`` or ``store``.
        skipped: rows without a decided label (unsure, unlabelled, tied votes).
        dataset: the store dataset (``None`` for a file).
        url: the store URL without the dataset (``None`` for a file).
    """

    rows: list[LabelledRow]
    source: str
    kind: str
    skipped: int = 0
    dataset: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Where the labels came from and how many (for ``summary.json``)."""
        return {"source": self.source, "kind": self.kind, "dataset": self.dataset, "labels": len(self.rows),
                "failures": sum(r.label for r in self.rows), "skipped": self.skipped}


def is_store_url(source: str) -> bool:
    """Whether SOURCE names a store (a database URL) rather than a file."""
    return "://" in source and source.split("://", 1)[0].split("+")[0] in ("sqlite", "postgresql", "postgres")


def split_store_source(source: str) -> tuple[str, str]:
    """``sqlite:///nines.db#name`` -> ``("sqlite:///nines.db", "name")``.

    Raises:
        ValueError: without ``#DATASET``.
    """
    url, sep, name = source.rpartition("#")
    if not sep or not url or not name.strip():
        raise ValueError(f"store source {_hide(source)!r} names no dataset: add '#DATASET', e.g. "
                         "'sqlite:///nines.db#my-labels' (`nines app` and `nines label --store` make datasets)")
    return url, name.strip()


def _hide(source: str) -> str:
    """The source with a URL password replaced by ``***``."""
    head, sep, rest = source.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return source
    cred, _, host = rest.partition("@")
    user = cred.split(":", 1)[0]
    return f"{head}://{user}:***@{host}" if ":" in cred else source


def _label_of(value: Any, positive: str, negative: str) -> bool | None | str:
    """True/False for a decided label, None for unsure/null, the string ``"bad"`` otherwise."""
    if value is None or value == "unsure":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if value in (positive, POSITIVE_STORED):
        return True
    if value in (negative, NEGATIVE_STORED):
        return False
    return "bad"


def _text(row: Mapping[str, Any], key: str, path: Path, line: int) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        what = "is missing" if key not in row else f"is {type(value).__name__}, not a string"
        raise DataError(path, line, key, what, f'give every row a "{key}" string')
    return value


def _plain_rows(rows: Iterable[tuple[int, dict[str, Any]]], path: Path, positive: str,
                negative: str) -> tuple[list[LabelledRow], int]:
    out, skipped = [], 0
    for line, row in rows:
        prompt, completion = _text(row, "prompt", path, line), _text(row, "completion", path, line)
        if "label" not in row:
            raise DataError(path, line, "label", "is missing",
                            f'add "label": "{positive}" or "{negative}" (or label the file with `nines label`)')
        y = _label_of(row["label"], positive, negative)
        if y == "bad":
            raise DataError(path, line, "label", f"{row['label']!r} is not {positive!r}, {negative!r}, 'unsure', "
                            "true/false, 1/0 or null", _FIX)
        if y is None:
            skipped += 1
            continue
        pid = row.get("prompt_id")
        if pid is not None and not (isinstance(pid, str) and pid):
            raise DataError(path, line, "prompt_id", f"{pid!r} is not a non-empty string", _FIX)
        meta = {k: v for k, v in row.items() if k not in ("prompt_id", "prompt", "completion", "label")}
        inner = meta.pop("metadata", None)
        if isinstance(inner, dict):
            meta = {**inner, **meta}
        out.append(LabelledRow(pid or text_prompt_id(prompt), prompt, completion, bool(y), meta))
    return out, skipped


def _export_rows(rows: list[tuple[int, dict[str, Any]]], path: Path, positive: str,
                 negative: str) -> tuple[list[LabelledRow], int]:
    """The app's label export: one row per label given; each snippet counted once."""
    by_snippet: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
    for line, row in rows:
        by_snippet.setdefault(row.get("snippet_id"), []).append((line, row))
    out, skipped = [], 0
    for items in by_snippet.values():
        line, first = items[0]
        current = _label_of(first.get("current_label"), positive, negative)
        if current is None or current == "bad":
            votes = Counter(_label_of(r.get("label"), positive, negative) for _, r in items)
            votes.pop(None, None)
            votes.pop("bad", None)
            top = votes.most_common(2)
            current = top[0][0] if top and (len(top) == 1 or top[0][1] > top[1][1]) else None
        if current is None:
            skipped += 1
            continue
        prompt, completion = _text(first, "prompt", path, line), _text(first, "completion", path, line)
        meta = {"snippet_id": first.get("snippet_id"), "labels_given": len(items)}
        out.append(LabelledRow(first.get("prompt_id") or text_prompt_id(prompt), prompt, completion, bool(current),
                               meta))
    return out, skipped


def _read_jsonl(path: Path, positive: str, negative: str) -> LabelSource:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such labels file; give a JSONL of labelled samples "
                                "(prompt_id, prompt, completion, label) or a store URL such as sqlite:///nines.db#name")
    rows = list(iter_jsonl_rows(path))  # DataError names the file and line for bad JSON
    if all("label_id" in r and "snippet_id" in r for _, r in rows):
        got, skipped = _export_rows(rows, path, positive, negative)
    else:
        got, skipped = _plain_rows(rows, path, positive, negative)
    return LabelSource(got, str(path), "jsonl", skipped)


def _read_store(source: str, positive: str, negative: str, task: str | None = None) -> LabelSource:
    from nines.data.store import Store

    url, name = split_store_source(source)
    with Store(url) as store:
        if name not in store.datasets():
            have = ", ".join(store.datasets()) or "none"
            raise ValueError(f"{_hide(source)}: the store has no dataset {name!r} (datasets: {have}); import one "
                             "with `nines label --store URL --dataset NAME` or `nines evaluate --plan N --store URL#NAME`")
        labelled_for = store.effective_task(name)
        if task is not None and labelled_for not in (None, task):
            # Both tasks store their positive class as the same value, so mixing them would be silent.
            raise ValueError(f"{_hide(source)}: dataset {name!r} is labelled for task {labelled_for!r}, not "
                             f"{task!r}; evaluate a classifier of task {labelled_for!r}, or label a new dataset")
        snippets = store.query(dataset=name)
    rows, skipped = [], 0
    for s in snippets:
        y = s.is_injurious
        if y is None:
            skipped += 1
            continue
        rows.append(LabelledRow(s.prompt_id or text_prompt_id(s.prompt), s.prompt, s.completion, bool(y),
                                {**s.metadata, "snippet_id": s.id}))
    return LabelSource(rows, _hide(source), "store", skipped, dataset=name, url=url)


def read_labels(source: str | os.PathLike[str], positive: str = "injurious", negative: str = "safe",
                task: str | None = None) -> LabelSource:
    """Read labelled unfiltered samples from a JSONL file or a store dataset (see the module docstring).

    Args:
        source: a JSONL path or ``sqlite:///path.db#dataset`` / ``postgresql://...#dataset``.
        positive: the task's positive (failure) label name; ``injurious``, its stored value, is read too.
        negative: the task's negative label name; ``safe`` is read too.

    Raises:
        DataError: a bad row (the message names the file, line and field, and the fix).
        ValueError: a store URL without a dataset, or with one the store lacks.
        FileNotFoundError: no such file.
    """
    text = os.fspath(source)
    if is_store_url(text):
        return _read_store(text, positive, negative, task)
    return _read_jsonl(Path(text), positive, negative)
