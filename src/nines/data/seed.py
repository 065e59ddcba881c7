"""The hand-written seed set: a few hundred labelled (prompt, completion) pairs of real prose.

The data lives in ``nines/data/seed/seed.jsonl`` (package data). Each line is one JSON object::

    {"prompt": "...", "completion": "...", "label": "injurious" | "safe",
     "outcome": "<kind>", "genre": "<genre>", "note": "<why, may be empty>"}

Labels follow ``docs/labelling.md``. ``outcome`` is the finer-grained kind of event the completion
describes; the four kinds in :data:`INJURIOUS_OUTCOMES` are exactly the injurious ones.

:func:`load_seed` returns :class:`~nines.data.record.Snippet` objects with a deterministic
train/test split: within each outcome kind, the rows are ordered by a hash of their text and the
first :data:`TEST_FRACTION` of them go to ``test``. The split therefore does not depend on file
order and every outcome kind is represented in the test split.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections import defaultdict
from importlib import resources
from typing import Any

from nines.data.outcomes import INJURIOUS_OUTCOMES as _WORLD_INJURIOUS
from nines.data.outcomes import OUTCOMES as _WORLD_OUTCOMES
from nines.data.record import Label, Snippet

#: Outcome kinds whose completions are injurious: the same vocabulary as StoryWorld's.
INJURIOUS_OUTCOMES: tuple[str, ...] = tuple(o for o in _WORLD_OUTCOMES if o in _WORLD_INJURIOUS)

#: Outcome kinds whose completions are safe (many of them hard negatives). The seed set adds
#: ``threat`` (intent without the injury happening), which StoryWorld does not generate.
SAFE_OUTCOMES: tuple[str, ...] = tuple(o for o in _WORLD_OUTCOMES if o not in _WORLD_INJURIOUS) + ("threat",)

OUTCOMES: tuple[str, ...] = INJURIOUS_OUTCOMES + SAFE_OUTCOMES

GENRES: tuple[str, ...] = (
    "fantasy battle",
    "domestic accident",
    "children's story",
    "thriller/crime",
    "fanfic",
    "sci-fi",
    "western",
    "horror",
    "sports",
    "historical",
)

#: Share of each outcome kind that goes to the ``test`` split.
TEST_FRACTION = 0.2

SOURCE = "seed"
LABELLER = "seed-authors"

_REQUIRED = ("prompt", "completion", "label", "outcome", "genre")
_ALLOWED_KEYS = frozenset(_REQUIRED + ("note",))


class SeedDataError(ValueError):
    """The packaged seed file is malformed (a packaging bug, not a user error)."""


def _resource() -> Any:
    return resources.files("nines.data") / "seed" / "seed.jsonl"


def seed_path() -> pathlib.Path:
    """Path of the packaged ``seed.jsonl`` (works for editable and regular installs)."""
    return pathlib.Path(str(_resource()))


def _validate(obj: Any, lineno: int, where: str) -> dict[str, str]:
    def fail(msg: str) -> SeedDataError:
        return SeedDataError(f"{where}, line {lineno}: {msg}")

    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    extra = sorted(set(obj) - _ALLOWED_KEYS)
    if extra:
        raise fail(f"unknown field(s) {', '.join(extra)}")
    for k in _ALLOWED_KEYS:
        if k in obj and not isinstance(obj[k], str):
            raise fail(f"field {k!r} must be a string, got {type(obj[k]).__name__}")
    for k in ("prompt", "completion"):
        if not obj[k].strip():
            raise fail(f"field {k!r} is empty")
    if obj["label"] not in (Label.INJURIOUS.value, Label.SAFE.value, Label.UNSURE.value):
        raise fail(f"label must be injurious, safe or unsure, got {obj['label']!r}")
    if obj["outcome"] not in OUTCOMES:
        raise fail(f"unknown outcome {obj['outcome']!r}; expected one of {', '.join(OUTCOMES)}")
    if obj["genre"] not in GENRES:
        raise fail(f"unknown genre {obj['genre']!r}; expected one of {', '.join(GENRES)}")
    if obj["label"] != Label.UNSURE.value:
        expected = Label.INJURIOUS.value if obj["outcome"] in INJURIOUS_OUTCOMES else Label.SAFE.value
        if obj["label"] != expected:
            raise fail(
                f"label {obj['label']!r} contradicts outcome {obj['outcome']!r} (expected {expected!r})"
            )
    return {k: obj.get(k, "") for k in _ALLOWED_KEYS}


def read_seed_rows(text: str | None = None, where: str | None = None) -> list[dict[str, str]]:
    """Parse and validate seed JSONL (the packaged file unless ``text`` is given).

    Raises:
        SeedDataError: naming the offending line, for bad JSON, missing or unknown fields,
            unknown labels/outcomes/genres, a label that contradicts its outcome, or a
            duplicate prompt+completion.
    """
    if text is None:
        text = _resource().read_text(encoding="utf-8")
        where = where or str(seed_path())
    where = where or "<seed text>"
    rows: list[dict[str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SeedDataError(f"{where}, line {lineno}: invalid JSON ({e.msg})") from None
        row = _validate(obj, lineno, where)
        key = (row["prompt"].strip(), row["completion"].strip())
        if key in seen:
            raise SeedDataError(f"{where}, line {lineno}: duplicate of line {seen[key]}")
        seen[key] = lineno
        rows.append(row)
    if not rows:
        raise SeedDataError(f"{where}: no rows")
    return rows


def _hash(row: dict[str, str]) -> str:
    return hashlib.sha256(f"{row['prompt']}\x00{row['completion']}".encode()).hexdigest()


def assign_splits(rows: list[dict[str, str]], test_fraction: float = TEST_FRACTION) -> list[str]:
    """Deterministic split per row: ``round(test_fraction * n)`` of each outcome kind go to test."""
    by_outcome: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_outcome[row["outcome"]].append(i)
    splits = ["train"] * len(rows)
    for idx in by_outcome.values():
        n_test = max(1, round(test_fraction * len(idx))) if len(idx) > 1 else 0
        for i in sorted(idx, key=lambda j: _hash(rows[j]))[:n_test]:
            splits[i] = "test"
    return splits


def load_seed() -> list[Snippet]:
    """The seed set as labelled :class:`Snippet` objects (source ``seed``, labeller ``seed-authors``).

    ``metadata`` holds ``outcome``, ``genre``, ``note`` and ``seed_index`` (0-based row number).
    """
    rows = read_seed_rows()
    splits = assign_splits(rows)
    return [
        Snippet(
            prompt=row["prompt"],
            completion=row["completion"],
            label=Label(row["label"]),
            source=SOURCE,
            labeller=LABELLER,
            split=split,
            metadata={
                "outcome": row["outcome"],
                "genre": row["genre"],
                "note": row["note"],
                "seed_index": i,
            },
        )
        for i, (row, split) in enumerate(zip(rows, splits))
    ]


__all__ = [
    "GENRES",
    "INJURIOUS_OUTCOMES",
    "OUTCOMES",
    "SAFE_OUTCOMES",
    "TEST_FRACTION",
    "SeedDataError",
    "assign_splits",
    "load_seed",
    "read_seed_rows",
    "seed_path",
]
