"""Paraphrase augmentation: what counts as a paraphrase, labels and splits carried over, the cache reused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from nines.data.augment import augment, clean_paraphrase
from nines.data.record import Label, Snippet


@pytest.mark.parametrize(("out", "expected"), [
    ("The knife slipped and cut her thumb deeply.", "The knife slipped and cut her thumb deeply."),
    ('Sure! Here is the new sentence: "The knife slipped and cut her thumb deeply."\nHope it helps',
     "The knife slipped and cut her thumb deeply."),
    ("the knife slid and cut deep into her thumb!", None),  # a copy up to case and punctuation
    ("Cut.", None),  # far too short
    ("", None),
    ("The sentence is: The knife slipped and cut her thumb deeply.", "The knife slipped and cut her thumb deeply."),
    ("The first sentence was: The knife slipped and cut her thumb deeply.",
     "The knife slipped and cut her thumb deeply."),
    ("Slightly rewording: The knife slipped and cut her thumb deeply.", "The knife slipped and cut her thumb deeply."),
    ('The sentence was: "Rewrite this sentence in different words. Keep exactly what happens.', None),
    ("I'm not sure where the knife goes, so here: it cut her.", None),
    ("x " * 200, None),  # far too long
])
def test_clean_paraphrase(out: str, expected: str | None) -> None:
    assert clean_paraphrase("The knife slid and cut deep into her thumb.", out) == expected


class CountingParaphraser:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def paraphrase(self, texts: Sequence[str], seed: int = 0) -> list[str]:
        self.calls.append(list(texts))
        return [f"In other words, {t.lower()}" if "keep" in t else "" for t in texts]


def test_augment_keeps_label_split_and_uses_the_cache(tmp_path: Path) -> None:
    rows = [Snippet("p1", "We keep the bandage on.", Label.SAFE, split="train", metadata={"batch": "b", "line": 1}),
            Snippet("p2", "She fell hard and keeps bleeding.", Label.INJURIOUS, split="train",
                    metadata={"batch": "b", "line": 2}),
            Snippet("p3", "Nothing to see here at all.", Label.SAFE, split="train")]
    para = CountingParaphraser()
    out = augment(rows, para, copies=2, cache=tmp_path / "c.jsonl")
    assert [(s.prompt, s.label, s.split, s.source) for s in out] == [
        ("p1", Label.SAFE, "train", "paraphrase"), ("p2", Label.INJURIOUS, "train", "paraphrase")] * 2
    assert out[1].metadata["paraphrase_of"] == {"batch": "b", "line": 2}
    assert rows[0].completion == "We keep the bandage on."  # originals untouched
    assert len(para.calls) == 2  # one call per copy seed
    again = augment(rows, para, copies=2, cache=tmp_path / "c.jsonl")
    assert len(para.calls) == 2 and [s.completion for s in again] == [s.completion for s in out]


@pytest.mark.slow
def test_smollm2_writes_paraphrases_offline() -> None:
    pytest.importorskip("gguf", reason="needs gguf (pip install gguf)")
    from nines.data.augment import LMParaphraser

    try:
        para = LMParaphraser.smollm2(batch_size=4)
    except ImportError as e:
        pytest.skip(str(e))
    texts = ["The wolf bit the shepherd's hand and ran off into the trees.",
             "The arrow missed the king and stuck quivering in the door.",
             "Grandfather had broken his leg in the war, long before she was born.",
             "She slipped on the ice and cracked her head on the kerb."]
    outs = para.paraphrase(texts, seed=0)
    kept = [clean_paraphrase(t, o) for t, o in zip(texts, outs)]
    assert sum(k is not None for k in kept) >= 2, outs
