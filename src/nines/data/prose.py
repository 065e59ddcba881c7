"""The real-prose corpus: hand-written (prompt, completion) pairs in writing batches.

The seed set (:mod:`nines.data.seed`) is one register: polished, third-person, past-tense single
sentences. This corpus spreads the same rule (``docs/labelling.md``) over genres, registers
(dialogue, first person, present tense, childlike, archaic, terse, run-on, typos) and the hard
phrasings a classifier misses: consequences without injury words, euphemism, referents that live
only in the prompt, plain contact with a body, and the hard negatives that mirror them.

Files live in ``nines/data/seed/batches/<batch>.jsonl`` (package data). A **batch** is one file,
written in one sitting by one author; near-duplicates stay inside a batch, so the train/test split
is made per batch (:func:`batch_split`), never per row. Each line is one JSON object::

    {"prompt": "...", "completion": "...", "label": "injurious" | "safe",
     "outcome": "<kind>", "genre": "<genre>", "registers": ["dialogue", ...],
     "hard": "<phenomenon or empty>", "rule": "<rule clause>", "note": "<why>"}

``rule`` names the clause of the labelling guide that decides the row (:data:`RULES`); ``hard``
names the hard phenomenon the row exercises (:data:`HARD`), and a hard row must carry a note.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from nines.data.record import Label, Snippet
from nines.data.seed import INJURIOUS_OUTCOMES as SEED_INJURIOUS
from nines.data.seed import OUTCOMES as SEED_OUTCOMES

#: Outcome kinds: the seed set's, plus two safe kinds the seed set lacks.
OUTCOMES: tuple[str, ...] = SEED_OUTCOMES + (
    "hypothetical",  # dreams, imaginings, hypotheticals, counterfactuals: nothing really happens
    "pretence",  # pretend play, play-acting, false belief (someone thinks a person was hurt; nobody was)
)
INJURIOUS_OUTCOMES: tuple[str, ...] = SEED_INJURIOUS

GENRES: tuple[str, ...] = (
    "fantasy", "fairy tale", "children's story", "thriller", "horror", "war", "sports", "domestic",
    "medical", "animal story", "fanfic", "sci-fi", "western", "historical",
)

REGISTERS: tuple[str, ...] = (
    "plain", "dialogue", "first person", "second person", "present tense", "childlike", "archaic",
    "terse", "run-on", "typo",
)

#: Hard phenomena. Hard positives first, then hard negatives.
HARD: tuple[str, ...] = (
    # hard positives
    "consequence", "euphemism", "inferred_effect", "referent_in_prompt", "plain_contact",
    "self_harm", "graze", "miss_and_hit", "insect", "illness_death", "reported", "eaten",
    "slay_literal",
    # hard negatives
    "threat", "near_miss", "negation", "past_injury", "healing", "feelings_word", "object",
    "non_sentient", "pretend_play", "pretence", "false_belief", "dream", "hypothetical",
    "counterfactual", "metaphor", "pain_without_injury", "illness", "medical_treatment",
    "prompt_injury_not_recounted",
)

#: The clause of docs/labelling.md that decides a row.
RULES: tuple[str, ...] = (
    "rule1_new_injury", "rule2_death", "rule3_worsening", "implication", "sentience_list",
    "safe_threat", "safe_near_miss", "safe_past_healing", "safe_feelings", "safe_illness",
    "safe_metaphor", "safe_object", "safe_neutral",
    "faq_dream_hypothetical", "faq_attack_unresolved", "faq_graze", "faq_self_harm",
    "faq_pain_without_injury", "faq_medical", "faq_reported", "faq_several_events",
    "faq_sport", "faq_villain_animal", "context_not_recounted",
)

#: Share of batches (by a stable hash of the batch id) that go to ``test``.
TEST_SHARE = 0.2
#: Share of batches that go to ``val``: held out of training, so that a clean pool of real prose
#: (:func:`nines.classify.pools.prose_pool`) measures false flags on rows the classifier never fitted.
VAL_SHARE = 0.1

_REQUIRED = ("prompt", "completion", "label", "outcome", "genre", "registers", "rule")
_ALLOWED = frozenset(_REQUIRED + ("hard", "note"))
_WORD = re.compile(r"[a-z0-9']+")


class ProseDataError(ValueError):
    """A corpus file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class ProseRow:
    """One validated corpus row; ``batch`` is its file's stem, ``line`` its 1-based line."""

    prompt: str
    completion: str
    label: str
    outcome: str
    genre: str
    registers: tuple[str, ...]
    rule: str
    batch: str
    line: int
    hard: str = ""
    note: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def injurious(self) -> bool:
        return self.label == "injurious"


def batches_dir() -> pathlib.Path:
    """The packaged batch folder (works for editable and regular installs)."""
    return pathlib.Path(str(resources.files("nines.data") / "seed" / "batches"))


def _check_choice(value: Any, allowed: tuple[str, ...], name: str, fail: Any) -> None:
    if value not in allowed:
        raise fail(f"unknown {name} {value!r}; expected one of: {', '.join(allowed)}")


def _validate(obj: Any, batch: str, lineno: int, where: str) -> ProseRow:
    def fail(msg: str) -> ProseDataError:
        return ProseDataError(f"{where}, line {lineno}: {msg}")

    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    extra = sorted(set(obj) - _ALLOWED)
    if extra:
        raise fail(f"unknown field(s) {', '.join(extra)}")
    for k in ("prompt", "completion", "label", "outcome", "genre", "rule", "hard", "note"):
        if k in obj and not isinstance(obj[k], str):
            raise fail(f"field {k!r} must be a string, got {type(obj[k]).__name__}")
    for k in ("prompt", "completion"):
        if not obj[k].strip():
            raise fail(f"field {k!r} is empty")
    if obj["label"] not in ("injurious", "safe"):
        raise fail(f"label must be injurious or safe (the corpus has no unsure rows), got {obj['label']!r}")
    _check_choice(obj["outcome"], OUTCOMES, "outcome", fail)
    _check_choice(obj["genre"], GENRES, "genre", fail)
    _check_choice(obj["rule"], RULES, "rule", fail)
    hard = obj.get("hard", "")
    if hard:
        _check_choice(hard, HARD, "hard phenomenon", fail)
        if not obj.get("note", "").strip():
            raise fail(f"a hard row ({hard!r}) needs a note saying why the rule gives its label")
    regs = obj["registers"]
    if not isinstance(regs, list) or not regs:
        raise fail("registers must be a non-empty list, e.g. [\"dialogue\", \"first person\"]")
    for r in regs:
        _check_choice(r, REGISTERS, "register", fail)
    expected = "injurious" if obj["outcome"] in INJURIOUS_OUTCOMES else "safe"
    if obj["label"] != expected:
        raise fail(f"label {obj['label']!r} contradicts outcome {obj['outcome']!r} (expected {expected!r})")
    return ProseRow(
        prompt=obj["prompt"], completion=obj["completion"], label=obj["label"], outcome=obj["outcome"],
        genre=obj["genre"], registers=tuple(regs), rule=obj["rule"], batch=batch, line=lineno,
        hard=hard, note=obj.get("note", ""),
    )


def read_batch(path: str | pathlib.Path) -> list[ProseRow]:
    """Parse and validate one batch file.

    Raises:
        ProseDataError: naming the file and line, for bad JSON, fields or vocabulary, or a
            duplicate pair inside the file.
    """
    path = pathlib.Path(path)
    batch = path.stem
    rows: list[ProseRow] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ProseDataError(f"{path}, line {lineno}: invalid JSON ({e.msg})") from None
        row = _validate(obj, batch, lineno, str(path))
        key = (row.prompt.strip(), row.completion.strip())
        if key in seen:
            raise ProseDataError(f"{path}, line {lineno}: duplicate of line {seen[key]}")
        seen[key] = lineno
        rows.append(row)
    if not rows:
        raise ProseDataError(f"{path}: no rows")
    return rows


def read_corpus(directory: str | pathlib.Path | None = None) -> list[ProseRow]:
    """Every batch in ``directory`` (the packaged batches by default), in file-name order."""
    directory = pathlib.Path(directory) if directory is not None else batches_dir()
    rows: list[ProseRow] = []
    for path in sorted(directory.glob("*.jsonl")):
        rows.extend(read_batch(path))
    return rows


def batch_split(batch: str, test_share: float = TEST_SHARE, val_share: float = VAL_SHARE) -> str:
    """``"test"``, ``"val"`` or ``"train"`` for a batch id, stable when other batches are added.

    The test batches are the same whatever ``val_share`` is: ``val`` takes the next slice of the hash.
    """
    h = int(hashlib.sha256(batch.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < test_share:
        return "test"
    return "val" if h < test_share + val_share else "train"


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    """Word n-grams of a lower-cased text (the unit of the near-duplicate check)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicates(
    left: list[ProseRow], right: list[ProseRow] | list[tuple[str, str]], threshold: float = 0.5
) -> list[tuple[int, int, float]]:
    """Pairs (i, j, similarity) whose completions share at least ``threshold`` of their word 3-grams.

    ``right`` may be rows or plain (prompt, completion) tuples (e.g. the seed set).
    """
    def comp(r: ProseRow | tuple[str, str]) -> str:
        return r.completion if isinstance(r, ProseRow) else r[1]

    sl = [shingles(comp(r)) for r in left]
    sr = [shingles(comp(r)) for r in right]
    out = []
    for i, a in enumerate(sl):
        for j, b in enumerate(sr):
            if a & b:
                s = jaccard(a, b)
                if s >= threshold:
                    out.append((i, j, s))
    return out


def to_snippets(rows: list[ProseRow]) -> list[Snippet]:
    """Rows as labelled :class:`Snippet` objects (source ``seed``, split by batch)."""
    return [
        Snippet(
            prompt=r.prompt, completion=r.completion, label=Label(r.label), source="seed",
            labeller="prose-authors", split=batch_split(r.batch),
            metadata={"outcome": r.outcome, "genre": r.genre, "registers": list(r.registers), "hard": r.hard,
                      "rule": r.rule, "batch": r.batch, "line": r.line, "corpus": "prose"},
        )
        for r in rows
    ]


def train_fraction(rows: list[ProseRow], fraction: float) -> list[ProseRow]:
    """The first ``fraction`` of the *training* batches (by a stable hash order), whole batches only.

    The test and calibration batches are never touched, so learning curves at 25%, 50% and 100% share
    one test set and one calibration pool.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    train = sorted({r.batch for r in rows if batch_split(r.batch) == "train"},
                   key=lambda b: hashlib.sha256(f"order:{b}".encode()).hexdigest())
    keep = set(train[: max(1, round(fraction * len(train)))]) if train else set()
    return [r for r in rows if r.batch in keep or batch_split(r.batch) != "train"]


def load_prose(directory: str | pathlib.Path | None = None, fraction: float = 1.0) -> list[Snippet]:
    """The corpus as Snippets (train, val and test batches), optionally keeping a share of training batches."""
    rows = read_corpus(directory)
    return to_snippets(train_fraction(rows, fraction) if fraction < 1 else rows)


def corpus_stats(rows: list[ProseRow]) -> dict[str, dict[str, int]]:
    """Counts by label, outcome, genre, register, hard phenomenon and split (for docs and checks)."""
    from collections import Counter

    def count(values: Any) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return {
        "label": count(r.label for r in rows),
        "outcome": count(r.outcome for r in rows),
        "genre": count(r.genre for r in rows),
        "register": count(g for r in rows for g in r.registers),
        "hard": count(r.hard or "-" for r in rows),
        "split": count(batch_split(r.batch) for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m nines.data.prose [DIR]``: validate the corpus, list near-duplicates, print counts."""
    import sys

    from nines.data.seed import read_seed_rows

    args = sys.argv[1:] if argv is None else argv
    try:
        rows = read_corpus(args[0] if args else None)
    except ProseDataError as e:
        print(f"error: {e}")
        return 1
    seed = [(r["prompt"], r["completion"]) for r in read_seed_rows()]
    bad = 0
    for i, j, s in near_duplicates(rows, seed):
        bad += 1
        print(f"near-duplicate of seed row {j + 1} ({s:.2f}): {rows[i].batch} line {rows[i].line}")
    for i, j, s in near_duplicates(rows, rows):
        if i < j and rows[i].batch != rows[j].batch:
            bad += 1
            print(f"near-duplicate across batches ({s:.2f}): {rows[i].batch}:{rows[i].line} ~ "
                  f"{rows[j].batch}:{rows[j].line}")
    print(json.dumps({"rows": len(rows), **corpus_stats(rows)}, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "GENRES", "HARD", "INJURIOUS_OUTCOMES", "OUTCOMES", "REGISTERS", "RULES", "VAL_SHARE", "TEST_SHARE",
    "ProseDataError", "ProseRow", "batch_split", "batches_dir", "corpus_stats", "main", "jaccard", "near_duplicates",
    "load_prose", "read_batch", "read_corpus", "shingles", "to_snippets", "train_fraction",
]
