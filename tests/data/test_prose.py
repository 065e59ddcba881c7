"""The real-prose corpus: the validator catches bad rows, and the packaged corpus is clean and split by batch."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from nines.data import prose
from nines.data.seed import read_seed_rows

GOOD = {
    "prompt": "The goblin raised its cudgel over Tam's head.", "completion": "It came down on his shoulder.",
    "label": "injurious", "outcome": "explicit_injury", "genre": "fantasy", "registers": ["terse"],
    "hard": "plain_contact", "rule": "rule1_new_injury", "note": "a forceful blow that lands",
}
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "labelling.md"


def _write(tmp_path: pathlib.Path, rows: list[dict], name: str = "t01_fantasy") -> pathlib.Path:
    p = tmp_path / f"{name}.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


@pytest.mark.parametrize(("change", "message"), [
    ({"label": "safe"}, "contradicts outcome"),
    ({"label": "unsure"}, "no unsure rows"),
    ({"outcome": "explosion"}, "unknown outcome"),
    ({"genre": "opera"}, "unknown genre"),
    ({"registers": []}, "non-empty list"),
    ({"registers": ["shouty"]}, "unknown register"),
    ({"rule": "vibes"}, "unknown rule"),
    ({"note": ""}, "needs a note"),
    ({"extra": 1}, "unknown field"),
    ({"completion": "  "}, "is empty"),
])
def test_validator_names_file_and_line(tmp_path: pathlib.Path, change: dict, message: str) -> None:
    p = _write(tmp_path, [GOOD, {**GOOD, "completion": "He dropped.", **change}])
    with pytest.raises(prose.ProseDataError, match=rf"t01_fantasy.jsonl, line 2: .*{message}"):
        prose.read_batch(p)


def test_validator_rejects_duplicates_and_accepts_good_rows(tmp_path: pathlib.Path) -> None:
    rows = prose.read_batch(_write(tmp_path, [GOOD]))
    assert rows[0].batch == "t01_fantasy" and rows[0].line == 1 and rows[0].injurious
    with pytest.raises(prose.ProseDataError, match="line 2: duplicate of line 1"):
        prose.read_batch(_write(tmp_path, [GOOD, GOOD]))


def test_batch_split_is_stable_and_near_the_share() -> None:
    ids = [f"b{i:03d}" for i in range(1000)]
    splits = [prose.batch_split(b) for b in ids]
    assert splits == [prose.batch_split(b) for b in ids]
    assert 0.16 < splits.count("test") / len(ids) < 0.24
    assert 0.07 < splits.count("val") / len(ids) < 0.13
    # Calibration takes the next slice of the hash: the test batches do not depend on it.
    assert [s == "test" for s in splits] == [prose.batch_split(b, val_share=0.0) == "test" for b in ids]


def test_train_fraction_keeps_test_batches_and_grows(tmp_path: pathlib.Path) -> None:
    for i in range(20):
        _write(tmp_path, [{**GOOD, "completion": f"It hit him {i} times."}], name=f"t{i:02d}_fantasy")
    rows = prose.read_corpus(tmp_path)
    test = {r.batch for r in rows if prose.batch_split(r.batch) != "train"}
    sizes = []
    for frac in (0.25, 0.5, 1.0):
        kept = prose.train_fraction(rows, frac)
        assert test <= {r.batch for r in kept}
        sizes.append(len({r.batch for r in kept} - test))
    assert sizes[0] < sizes[1] < sizes[2] == 20 - len(test)
    smaller = {r.batch for r in prose.train_fraction(rows, 0.25)}
    assert smaller <= {r.batch for r in prose.train_fraction(rows, 0.5)}


def test_near_duplicates_finds_reworded_copies() -> None:
    a = prose.ProseRow(**{**GOOD, "registers": ("terse",), "batch": "x", "line": 1,
                          "completion": "The arrow went into his thigh and he fell off the wall screaming."})
    near = ("p", "The arrow went into his thigh and he fell off the wall, screaming loudly.")
    far = ("p", "She laughed and poured the tea.")
    assert [(i, j) for i, j, _ in prose.near_duplicates([a], [near, far])] == [(0, 0)]


# The packaged corpus itself.

@pytest.fixture(scope="module")
def corpus() -> list[prose.ProseRow]:
    rows = prose.read_corpus()
    if not rows:
        pytest.fail(f"no corpus batches in {prose.batches_dir()}")
    return rows


def test_corpus_size_balance_and_coverage(corpus: list[prose.ProseRow]) -> None:
    stats = prose.corpus_stats(corpus)
    share = stats["label"].get("injurious", 0) / len(corpus)
    assert 0.35 <= share <= 0.6, stats["label"]
    assert set(prose.OUTCOMES) <= set(stats["outcome"]), set(prose.OUTCOMES) - set(stats["outcome"])
    assert set(prose.REGISTERS) <= set(stats["register"]), set(prose.REGISTERS) - set(stats["register"])
    test_share = stats["split"].get("test", 0) / len(corpus)
    assert 0.08 <= test_share <= 0.4, stats["split"]
    test = [r for r in corpus if prose.batch_split(r.batch) == "test"]
    assert {r.label for r in test} == {"injurious", "safe"}


@pytest.mark.parametrize("left,right", [("train", "test"), ("train", "val"), ("val", "test")])
def test_corpus_has_no_near_duplicates_across_splits(corpus: list[prose.ProseRow], left: str, right: str) -> None:
    a = [r for r in corpus if prose.batch_split(r.batch) == left]
    b = [r for r in corpus if prose.batch_split(r.batch) == right]
    assert a and b, f"the corpus has no {left if not a else right} batch"
    pairs = [(a[i].batch, a[i].line, b[j].batch, b[j].line) for i, j, _ in prose.near_duplicates(a, b)]
    assert not pairs, pairs[:10]


def test_corpus_copies_neither_the_seed_set_nor_the_guide(corpus: list[prose.ProseRow]) -> None:
    seed = [(r["prompt"], r["completion"]) for r in read_seed_rows()]
    examples = [("", cells[3]) for line in DOCS.read_text().splitlines()
                if re.match(r"\| \d+ \|", line) and len(cells := [c.strip() for c in line.split("|")]) > 4]
    assert len(examples) == 20
    hits = [(corpus[i].batch, corpus[i].line) for i, _, _ in prose.near_duplicates(corpus, seed + examples)]
    assert not hits, hits[:10]


def test_load_prose_gives_labelled_snippets_split_by_batch(corpus: list[prose.ProseRow]) -> None:
    snippets = prose.load_prose()
    assert len(snippets) == len(corpus)
    by_batch: dict[str, set[str | None]] = {}
    for s in snippets:
        by_batch.setdefault(s.metadata["batch"], set()).add(s.split)
        assert s.label is not None and s.label.value == ("injurious" if s.metadata["outcome"] in
                                                          prose.INJURIOUS_OUTCOMES else "safe")
    assert all(len(v) == 1 for v in by_batch.values())
