"""The word-level StoryWorld tokenizer: lossless round trip, unknown words, save and reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from nines.distill.tokenizer import EOS, PAD, UNK, build_word_tokenizer, word_tokens
from nines.storyworld import StoryWorld


@pytest.fixture(scope="module")
def fresh_texts(world: StoryWorld) -> list[str]:
    """Prompts and space-led completions of a sample the vocabulary was not built from."""
    batch = world.sample(500, seed=123)
    return list(batch.prompts) + [" " + c for c in batch.completions]


def test_word_tokens_concatenate_back_to_the_text() -> None:
    text = 'Mara said, "Run!" and 3 dogs ran off.'
    pieces = word_tokens(text)
    assert "".join(pieces) == text
    assert pieces[:3] == ["Mara", " said", ","] and ' "' in pieces


def test_special_tokens_come_first(word_tok: Any) -> None:
    assert (word_tok.pad_token, word_tok.unk_token, word_tok.eos_token) == (PAD, UNK, EOS)
    assert (word_tok.pad_token_id, word_tok.unk_token_id, word_tok.eos_token_id) == (0, 1, 2)
    assert word_tok.padding_side == "left"
    assert 500 < len(word_tok) < 3000


def test_fresh_storyworld_text_round_trips(word_tok: Any, fresh_texts: list[str]) -> None:
    ids = word_tok(fresh_texts)["input_ids"]
    known = [(t, i) for t, i in zip(fresh_texts, ids) if word_tok.unk_token_id not in i]
    # a 3000-sample vocabulary covers nearly every word of a fresh sample
    assert len(known) >= 0.98 * len(fresh_texts)
    for text, row in known:
        assert word_tok.decode(row) == text
        assert len(row) == len(word_tokens(text))  # one id per piece, no special tokens added
    completions = [t for t, _ in known if t.startswith(" ")]
    assert completions and all(word_tok.decode(word_tok(t)["input_ids"]).startswith(" ") for t in completions)


def test_unknown_word_maps_to_unk(word_tok: Any) -> None:
    ids = word_tok("The Zyzzyxqua waited.")["input_ids"]
    assert ids.count(word_tok.unk_token_id) == 1
    assert ids[1] == word_tok.unk_token_id  # " Zyzzyxqua" is one piece
    assert word_tok("The")["input_ids"] != [word_tok.unk_token_id]


def test_save_and_autotokenizer_reload_give_identical_ids(word_tok: Any, fresh_texts: list[str],
                                                          tmp_path: Path) -> None:
    word_tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    texts = [*fresh_texts[:50], *fresh_texts[-50:], "The Zyzzyxqua waited."]
    assert loaded(texts)["input_ids"] == word_tok(texts)["input_ids"]
    assert len(loaded) == len(word_tok)
    assert (loaded.pad_token_id, loaded.unk_token_id, loaded.eos_token_id) == (0, 1, 2)
    row = loaded(fresh_texts[0])["input_ids"]
    assert loaded.decode(row) == word_tok.decode(row)


def test_min_count_drops_rare_pieces() -> None:
    tok = build_word_tokenizer(["a a b", "a a c"], min_count=2)
    assert len(tok) == 3 + 2  # specials, "a" and " a"
    assert tok(" c")["input_ids"] == [tok.unk_token_id]


@pytest.mark.parametrize("texts", [[], [""]])
def test_empty_corpus_raises(texts: list[str]) -> None:
    with pytest.raises(ValueError, match="no text"):
        build_word_tokenizer(texts)


def test_min_count_above_every_count_raises() -> None:
    with pytest.raises(ValueError, match="no text"):
        build_word_tokenizer(["once upon a time"], min_count=5)
