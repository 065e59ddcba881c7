"""The SafeText data set (Levy et al., 2022) from the shared folder: scenarios, their ids and the split.

``$NINES_SHARED/data/safetext.json`` holds ``{scenario: {"safe": [...], "unsafe": [...]}}``: 367
everyday scenarios ("To remove redness from eyes,"), each with human-written safe and unsafe
continuations. The text is third-party and is never copied into the repository; it is read at run
time. Each scenario gets a stable id from its text (``safetext:`` + 16 hex digits of SHA-256) and a
split (``train``, ``calibration`` or ``test``) from a hash of that id, so the split never changes
with the file's order and a held-out scenario never reaches training or the threshold.

The shared folder is found as :func:`nines.shared.shared_dir` finds it (``$NINES_SHARED``,
else ``../shared`` beside the checkout); this module sits beside ``nines.data`` in the layers,
so it repeats those few lines instead of importing them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAFETEXT_FILE = "safetext.json"
ID_PREFIX = "safetext:"
SPLITS: tuple[str, ...] = ("train", "calibration", "test")


@dataclass(frozen=True)
class Scenario:
    """One SafeText scenario.

    Attributes:
        id: ``safetext:`` + the first 16 hex digits of SHA-256 of ``text``.
        text: the scenario (the prompt a continuation finishes).
        safe: its safe continuations, in file order (duplicates kept: they weigh the sampling).
        unsafe: its unsafe continuations, in file order.
    """

    id: str
    text: str
    safe: tuple[str, ...]
    unsafe: tuple[str, ...]


def scenario_id(text: str) -> str:
    """The stable id of a scenario text."""
    return ID_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_of(sid: str, train_fraction: float = 0.5, calibration_fraction: float = 0.25) -> str:
    """``train``, ``calibration`` or ``test`` for a scenario id, from a hash of the id (not the file order)."""
    u = int(hashlib.sha256(f"split:{sid}".encode()).hexdigest()[:12], 16) / 16**12
    if u < train_fraction:
        return "train"
    return "calibration" if u < train_fraction + calibration_fraction else "test"


def default_path() -> Path:
    """``$NINES_SHARED/data/safetext.json``, else ``../shared/data/safetext.json`` (:func:`nines.shared.shared_dir`).

    When no shared folder is found, the path beside the checkout is returned, so the error names it.
    """
    from nines.shared import shared_dir

    base = shared_dir(f"data/{SAFETEXT_FILE}")
    if base is None:  # the path the error message names: $NINES_SHARED's, else the one beside the checkout
        env = os.environ.get("NINES_SHARED")
        base = Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared"
    return base / "data" / SAFETEXT_FILE


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise ValueError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def parse_scenarios(data: Mapping[str, Any], source: str = "safetext.json") -> list[Scenario]:
    """Scenarios from the file's mapping, in file order.

    Raises:
        ValueError: naming the scenario and field that does not have the SafeText shape.
    """
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"{source} must hold a non-empty mapping of scenario -> {{'safe': [...], 'unsafe': [...]}}")
    out = []
    for text, lists in data.items():
        where = f"{source}, scenario {text[:50]!r}"
        if not isinstance(lists, Mapping):
            raise ValueError(f"{where} must map to {{'safe': [...], 'unsafe': [...]}}")
        safe = _strings(lists.get("safe"), f'{where}, field "safe"')
        unsafe = _strings(lists.get("unsafe"), f'{where}, field "unsafe"')
        if not safe or not unsafe:
            raise ValueError(f"{where} needs at least one safe and one unsafe continuation")
        overlap = {s.strip() for s in safe} & {u.strip() for u in unsafe}
        if overlap:
            raise ValueError(f"{where}: {sorted(overlap)[0]!r} is listed as both safe and unsafe")
        out.append(Scenario(scenario_id(text), text, safe, unsafe))
    ids = [s.id for s in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{source}: two scenarios share an id (the same text twice)")
    return out


def load_scenarios(path: str | os.PathLike[str] | None = None) -> list[Scenario]:
    """The SafeText scenarios from ``path`` (default :func:`default_path`), in file order.

    Raises:
        FileNotFoundError: when the file is absent, naming the path and how to get it.
        ValueError: when it is not SafeText's shape.
    """
    p = Path(path) if path else default_path()
    if not p.is_file():
        raise FileNotFoundError(
            f"SafeText file {p} does not exist; set NINES_SHARED to the shared folder holding "
            f"data/{SAFETEXT_FILE} (e.g. export NINES_SHARED=../shared) or pass path=/path/to/{SAFETEXT_FILE} "
            "(SafeText, Levy et al. 2022, MIT: github.com/sharonlevy/SafeText)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p} is not valid JSON ({e}); fetch the file again") from None
    return parse_scenarios(data, str(p))
