"""llama2.c conversion: a synthetic checkpoint always, the real stories260K when ../shared has it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from nines.generate.hf import HFGenerator, HFGeneratorConfig
from nines.generate.llama2c import (
    convert_llama2c,
    llama2c_encode,
    llama2c_forward,
    load_llama2c_tokenizer,
    permute_rope,
    read_tokenizer,
    read_weights,
    stories260k_dir,
)

SENTENCE = "Once upon a time, there was a little girl named Lily."
TEXTS = [
    SENTENCE,
    "",
    " two  spaces\nand a newline",
    'She said, "Hi!" and ran away... ok?',
    "unicode: caf\u00e9 \u65e5\u672c \U0001f600",
]


def write_synthetic(directory: Path, tied: bool) -> tuple[Path, Path]:
    """A random llama2.c checkpoint (GQA, 3 layers) and a small tokenizer with merges."""
    rng = np.random.default_rng(0)
    dim, hidden, layers, heads, kv_heads, seq_len = 16, 24, 3, 4, 2, 32
    pieces = ["<unk>", "\n<s>\n", "\n</s>\n"] + [f"<0x{b:02X}>" for b in range(256)]
    pieces += list(" abcdefghijklmnopqrstuvwxyz,.") + [" a", "he", " the", "an", " an", "ce", " on"]
    scores = [0.0] * 259 + [-100.0 - i for i in range(29)] + [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0]
    vocab = len(pieces)
    header = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if tied else -vocab, seq_len)
    hs, kv = dim // heads, kv_heads * dim // heads
    sizes = [
        vocab * dim,
        layers * dim,
        layers * dim * dim,
        layers * kv * dim,
        layers * kv * dim,
        layers * dim * dim,
        layers * dim,
        layers * hidden * dim,
        layers * dim * hidden,
        layers * hidden * dim,
        dim,
        seq_len * hs // 2,
        seq_len * hs // 2,
    ]
    if not tied:
        sizes.append(vocab * dim)
    data = rng.normal(0, 0.3, sum(sizes)).astype("<f4")
    ckpt, tok = directory / "model.bin", directory / "tok.bin"
    ckpt.write_bytes(header + data.tobytes())
    body = struct.pack("<i", max(len(p.encode()) for p in pieces))
    for p, s in zip(pieces, scores):
        b = p.encode()
        body += struct.pack("<fi", s, len(b)) + b
    tok.write_bytes(body)
    return ckpt, tok


def hf_logits(folder: Path, ids: list[int]) -> np.ndarray:
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double().numpy()


def test_permute_matches_hf_reference() -> None:
    w = np.arange(8 * 3).reshape(8, 3)
    # HF's convert_llama_weights_to_hf.py permute, in torch
    expected = torch.tensor(w).view(2, 8 // 2 // 2, 2, 3).transpose(1, 2).reshape(8, 3).numpy()
    assert np.array_equal(permute_rope(w, 2), expected)


@pytest.mark.parametrize("tied", [True, False])
def test_synthetic_checkpoint_logits_and_tokenizer(tmp_path: Path, tied: bool) -> None:
    ckpt, tok = write_synthetic(tmp_path, tied)
    out = convert_llama2c(ckpt, tok, tmp_path / "hf")
    h, weights = read_weights(ckpt)
    pieces, scores = read_tokenizer(tok, h.vocab_size)
    tokenizer = load_llama2c_tokenizer(out)
    for text in ["the cat on an ant, he ran.", "", "Xy\u00e9 the"]:
        ids = llama2c_encode(text, pieces, scores)
        assert tokenizer(text)["input_ids"] == ids
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    ids = llama2c_encode("the cat on an ant", pieces, scores)
    assert np.abs(hf_logits(out, ids) - llama2c_forward(weights, h, ids)).max() < 1e-4


def test_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(struct.pack("<7i", 16, 24, 1, 4, 2, 10, 8) + b"\0" * 40)
    with pytest.raises(ValueError, match="expected"):
        read_weights(bad)
    with pytest.raises(FileNotFoundError, match="tok"):
        convert_llama2c(tmp_path / "none.bin", tmp_path / "tok.bin", tmp_path / "out")


# ---------------------------------------------------------------- the real stories260K


@pytest.fixture(scope="module")
def stories(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    src = stories260k_dir()
    if src is None:
        pytest.skip("../shared/models/stories260K (or $NINES_SHARED/models/stories260K) is absent")
    return src, convert_llama2c(src / "stories260K.bin", src / "tok512.bin", tmp_path_factory.mktemp("s260k"))


@pytest.mark.shared
def test_stories260k_logits_match_numpy_reference(stories: tuple[Path, Path]) -> None:
    src, out = stories
    h, weights = read_weights(src / "stories260K.bin")
    pieces, scores = read_tokenizer(src / "tok512.bin", h.vocab_size)
    ids = llama2c_encode(SENTENCE, pieces, scores)[:10]
    assert np.abs(hf_logits(out, ids) - llama2c_forward(weights, h, ids)).max() < 1e-4


@pytest.mark.shared
def test_stories260k_tokenizer_matches_llama2c_and_round_trips(stories: tuple[Path, Path]) -> None:
    src, out = stories
    pieces, scores = read_tokenizer(src / "tok512.bin", 512)
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        assert ids == llama2c_encode(text, pieces, scores), text
        assert tok.decode(ids, skip_special_tokens=True) == text
    assert len(tok(SENTENCE)["input_ids"]) < len(SENTENCE) // 2  # merges happened


@pytest.mark.shared
def test_stories260k_greedy_generation_is_english(stories: tuple[Path, Path]) -> None:
    _, out = stories
    tok = load_llama2c_tokenizer(out)
    model = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    enc = tok(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        seq = model.generate(**enc, max_new_tokens=40, do_sample=False)
    new = seq[0, enc["input_ids"].shape[1] :]
    text = tok.decode(new, skip_special_tokens=True)
    assert len(new) >= 10
    letters = sum(ch.isascii() and (ch.isalpha() or ch == " ") for ch in text)
    assert letters / len(text) > 0.85, text
    words = text.split()
    common = {"the", "a", "to", "and", "she", "he", "was", "her", "it", "in"}
    assert sum(w.lower().strip(".,!?") in common for w in words) >= 3, text


@pytest.mark.shared
def test_stories260k_with_hf_generator(stories: tuple[Path, Path]) -> None:
    _, out = stories
    gen = HFGenerator(HFGeneratorConfig(model=str(out)))
    groups = gen.generate(["Once upon a time, there was a", "Tom had a"], n=4, seed=0)
    for group in groups:
        assert len(group) == 4
        for c in group:
            assert c.logprob is not None and c.logprob < 0
            assert c.text.strip()
