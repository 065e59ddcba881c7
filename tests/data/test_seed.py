"""Checks on the hand-written seed set (src/nines/data/seed/seed.jsonl) and its loader."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from nines.data.record import Label, Snippet
from nines.data.seed import (
    GENRES,
    INJURIOUS_OUTCOMES,
    OUTCOMES,
    SeedDataError,
    load_seed,
    read_seed_rows,
    seed_path,
)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_seed_rows()


@pytest.fixture(scope="module")
def snippets() -> list[Snippet]:
    return load_seed()


def test_seed_path_exists() -> None:
    p = seed_path()
    assert p.name == "seed.jsonl"
    assert p.is_file()


def test_at_least_300_rows(rows: list[dict[str, str]]) -> None:
    assert len(rows) >= 300


def test_every_outcome_kind_has_ten_examples(rows: list[dict[str, str]]) -> None:
    counts = Counter(r["outcome"] for r in rows)
    thin = {k: counts.get(k, 0) for k in OUTCOMES if counts.get(k, 0) < 10}
    assert not thin, f"outcome kinds with fewer than 10 examples: {thin}"


def test_every_genre_is_used(rows: list[dict[str, str]]) -> None:
    counts = Counter(r["genre"] for r in rows)
    assert set(counts) == set(GENRES)
    # roughly even: no genre more than twice as common as another
    assert max(counts.values()) <= 2 * min(counts.values())


def test_injurious_share(rows: list[dict[str, str]]) -> None:
    share = sum(r["label"] == "injurious" for r in rows) / len(rows)
    assert 0.30 <= share <= 0.50, share


def test_labels_match_outcomes(rows: list[dict[str, str]]) -> None:
    bad = [
        (i, r["label"], r["outcome"])
        for i, r in enumerate(rows)
        if (r["label"] == "injurious") != (r["outcome"] in INJURIOUS_OUTCOMES)
    ]
    assert not bad, bad[:10]


def test_no_duplicates(rows: list[dict[str, str]]) -> None:
    keys = Counter((r["prompt"].strip().lower(), r["completion"].strip().lower()) for r in rows)
    dups = [k for k, n in keys.items() if n > 1]
    assert not dups, dups[:5]
    completions = Counter(r["completion"].strip().lower() for r in rows)
    assert not [c for c, n in completions.items() if n > 1]


_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Mt|vs|etc)\.", re.IGNORECASE)
# A sentence end: . ! or ? (possibly repeated) followed by whitespace and then a capital letter or quote.
_INNER_END = re.compile(r"[.!?]+[\"'”’)]*\s+[\"'“‘(]?[A-Z]")


def _sentence_ends_inside(text: str) -> int:
    text = _ABBREV.sub("Abbr", _QUOTED.sub("QUOTE", text.strip()))
    return len(_INNER_END.findall(text))


def test_sentence_counter_sanity() -> None:
    assert _sentence_ends_inside("He fell.") == 0
    assert _sentence_ends_inside('"Run!" she shouted, and he ran.') == 0
    assert _sentence_ends_inside("Mr. Smith fell down the stairs.") == 0
    assert _sentence_ends_inside("He fell. She laughed.") == 1
    assert _sentence_ends_inside("He fell! Then he got up.") == 1


def test_completions_are_one_sentence(rows: list[dict[str, str]]) -> None:
    bad = [r["completion"] for r in rows if _sentence_ends_inside(r["completion"]) > 0]
    assert not bad, bad[:5]
    unterminated = [
        r["completion"] for r in rows if not re.search(r"[.!?][\"'”’]?$", r["completion"].strip())
    ]
    assert not unterminated, unterminated[:5]


def test_prompts_are_at_most_three_sentences(rows: list[dict[str, str]]) -> None:
    bad = [r["prompt"] for r in rows if _sentence_ends_inside(r["prompt"]) > 2]
    assert not bad, bad[:5]


def test_load_seed_returns_snippets(snippets: list[Snippet], rows: list[dict[str, str]]) -> None:
    assert len(snippets) == len(rows)
    for i, s in enumerate(snippets):
        assert isinstance(s, Snippet)
        assert s.source == "seed"
        assert s.labeller == "seed-authors"
        assert s.label in (Label.INJURIOUS, Label.SAFE)
        assert s.split in ("train", "test")
        assert set(s.metadata) == {"outcome", "genre", "note", "seed_index"}
        assert s.metadata["seed_index"] == i
        assert s.metadata["outcome"] in OUTCOMES


def test_test_split_is_about_a_fifth_and_stratified(snippets: list[Snippet]) -> None:
    test = [s for s in snippets if s.split == "test"]
    assert 0.17 <= len(test) / len(snippets) <= 0.23
    assert {s.metadata["outcome"] for s in test} == set(OUTCOMES)
    for kind in OUTCOMES:
        kind_all = [s for s in snippets if s.metadata["outcome"] == kind]
        kind_test = [s for s in kind_all if s.split == "test"]
        assert 0.1 <= len(kind_test) / len(kind_all) <= 0.3, kind


def test_split_is_deterministic(snippets: list[Snippet]) -> None:
    again = load_seed()
    assert [s.split for s in again] == [s.split for s in snippets]


def test_validation_names_the_line() -> None:
    good = '{"prompt": "p.", "completion": "c.", "label": "safe", "outcome": "neutral", "genre": "western"}'
    assert len(read_seed_rows(good + "\n", where="x.jsonl")) == 1
    cases = {
        "not json": "invalid JSON",
        good.replace('"label": "safe"', '"label": "maybe"'): "label",
        good.replace('"label": "safe"', '"label": "injurious"'): "contradicts",
        good.replace('"outcome": "neutral"', '"outcome": "bruise"'): "unknown outcome",
        good.replace(', "genre": "western"', ""): "missing field(s) genre",
    }
    for bad, msg in cases.items():
        with pytest.raises(SeedDataError, match=r"x\.jsonl, line 2: .*" + re.escape(msg)):
            read_seed_rows(good + "\n" + bad + "\n", where="x.jsonl")
    with pytest.raises(SeedDataError, match="line 2: duplicate of line 1"):
        read_seed_rows(good + "\n" + good + "\n", where="x.jsonl")
