"""The run's training data: paraphrase augmentation of the corpus, by label, through the cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from nines.data import augment
from nines.data.augment import clean_paraphrase
from nines.recipes.data import DataConfig, build_run_data
from nines.storyworld import StoryWorld


class Reverser:
    """A paraphraser whose rewrite is known: the words in reverse order."""

    def __init__(self) -> None:
        self.seen = 0

    def paraphrase(self, texts: Sequence[str], seed: int = 0) -> list[str]:
        self.seen += len(texts)
        return [" ".join(reversed(t.split())) for t in texts]


@pytest.mark.parametrize("which", ["all", "safe", "injurious"])
def test_paraphrases_follow_the_label_choice(which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Reverser()
    monkeypatch.setattr(augment.LMParaphraser, "smollm2", classmethod(lambda cls, **kw: fake))
    cfg = DataConfig(n_train=20, n_val=10, prose_oversample=1, paraphrase_copies=1, paraphrase_labels=which,
                     paraphrase_cache=str(tmp_path / "para.jsonl"))
    data = build_run_data(StoryWorld(seed=0), cfg, seed=0)
    para = [s for s in data.train if s.source == "paraphrase"]
    originals = {(s.metadata["batch"], s.metadata["line"]): s for s in data.train
                 if s.metadata.get("corpus") == "prose" and s.source != "paraphrase"}
    assert para and data.counts["paraphrases"] == len(para)
    labels = {bool(s.is_injurious) for s in para}
    assert labels == ({True, False} if which == "all" else {which == "injurious"})
    # Each paraphrase is its original's reversal (as the cleaner left it), with the original's label.
    for p in para:
        src = originals[(p.metadata["paraphrase_of"]["batch"], p.metadata["paraphrase_of"]["line"])]
        assert p.label == src.label and p.split == "train"
        assert p.completion == clean_paraphrase(src.completion, " ".join(reversed(src.completion.split())))
    assert fake.seen >= len(para)
    # A rerun reads the cache and never calls the model.
    again = Reverser()
    monkeypatch.setattr(augment.LMParaphraser, "smollm2", classmethod(lambda cls, **kw: again))
    build_run_data(StoryWorld(seed=0), cfg, seed=0)
    assert again.seen == 0


def test_paraphrase_labels_is_validated() -> None:
    with pytest.raises(ValueError, match="paraphrase_labels must be all, safe or injurious"):
        DataConfig(paraphrase_labels="unsafe")
