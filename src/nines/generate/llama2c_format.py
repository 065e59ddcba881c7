"""The llama2.c file formats: reading a checkpoint and its tokenizer (pure Python/numpy).

llama2.c (https://github.com/karpathy/llama2c) stores a tiny Llama as a raw binary:
a 7 x int32 header ``(dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)``
(a negative ``vocab_size`` means the classifier is not tied to the embedding) followed by
float32 tensors in a fixed order. Its tokenizer file ``tok*.bin`` holds
``int32 max_token_length`` then, per token, ``float32 score, int32 length, bytes``.
Conversion to a Hugging Face folder is :mod:`nines.generate.llama2c`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPACE = "\u2581"  # SentencePiece's '▁'
BOS_ID, EOS_ID, UNK_ID = 1, 2, 0
N_BYTE_TOKENS = 256
BYTE_OFFSET = 3  # llama2.c: byte b is token b + 3
SHARED_SUBDIR = Path("models") / "stories260K"


@dataclass(frozen=True)
class Llama2cHeader:
    """The 7-int header of a llama2.c v0 checkpoint."""

    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    shared_classifier: bool

    @property
    def head_size(self) -> int:
        """Per-head dimension."""
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:
        """Total key/value dimension (grouped-query attention)."""
        return self.n_kv_heads * self.head_size


# --------------------------------------------------------------------------------------------
# locating the shared model


def stories260k_dir() -> Path | None:
    """Locate the shared ``stories260K`` folder, or return ``None`` when it is absent.

    Looks in ``$NINES_SHARED/models/stories260K``, else ``../shared/models/stories260K`` beside the
    checkout or the current directory (:func:`nines.shared.shared_dir`).

    Returns:
        The folder holding ``stories260K.bin`` and ``tok512.bin``, or ``None``.
    """
    from nines.shared import shared_dir

    base = shared_dir(str(SHARED_SUBDIR))
    cand = base / SHARED_SUBDIR if base is not None else None
    if cand is not None and (cand / "stories260K.bin").is_file() and (cand / "tok512.bin").is_file():
        return cand.resolve()
    return None


# --------------------------------------------------------------------------------------------
# reading the checkpoint


def read_header(checkpoint: Path) -> Llama2cHeader:
    """Read the header of a llama2.c v0 checkpoint.

    Args:
        checkpoint: path to the ``.bin`` model file.

    Returns:
        The parsed header.

    Raises:
        ValueError: when the file is too short or the header is implausible.
    """
    raw = Path(checkpoint).read_bytes()[:28]
    if len(raw) < 28:
        raise ValueError(f"{checkpoint} is too short to be a llama2.c checkpoint (need a 28-byte header)")
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", raw)
    if min(dim, hidden, n_layers, n_heads, n_kv, seq_len) <= 0 or vocab == 0 or dim % n_heads:
        raise ValueError(
            f"{checkpoint} does not look like a llama2.c v0 checkpoint (header {raw!r}); "
            "export it with llama2.c's `export.py --version 0`"
        )
    return Llama2cHeader(dim, hidden, n_layers, n_heads, n_kv, abs(vocab), seq_len, vocab > 0)


def read_weights(checkpoint: Path) -> tuple[Llama2cHeader, dict[str, np.ndarray]]:
    """Read all tensors of a llama2.c v0 checkpoint (in llama2.c layout, ``(out, in)``).

    Args:
        checkpoint: path to the ``.bin`` model file.

    Returns:
        The header and a dict of float32 arrays keyed by llama2.c's names.

    Raises:
        ValueError: when the file size does not match the header.
    """
    h = read_header(checkpoint)
    data = np.fromfile(checkpoint, dtype="<f4", offset=28)
    L, d, hd, kv = h.n_layers, h.dim, h.hidden_dim, h.kv_dim
    shapes: list[tuple[str, tuple[int, ...]]] = [
        ("token_embedding_table", (h.vocab_size, d)),
        ("rms_att_weight", (L, d)),
        ("wq", (L, d, d)),
        ("wk", (L, kv, d)),
        ("wv", (L, kv, d)),
        ("wo", (L, d, d)),
        ("rms_ffn_weight", (L, d)),
        ("w1", (L, hd, d)),
        ("w2", (L, d, hd)),
        ("w3", (L, hd, d)),
        ("rms_final_weight", (d,)),
        ("freq_cis_real", (h.seq_len, h.head_size // 2)),
        ("freq_cis_imag", (h.seq_len, h.head_size // 2)),
    ]
    if not h.shared_classifier:
        shapes.append(("wcls", (h.vocab_size, d)))
    need = sum(int(np.prod(s)) for _, s in shapes)
    if data.size != need:
        raise ValueError(
            f"{checkpoint}: expected {need} float32 values after the header for {h}, found {data.size}; "
            "is this a llama2.c v0 (legacy) export?"
        )
    out: dict[str, np.ndarray] = {}
    pos = 0
    for name, shape in shapes:
        size = int(np.prod(shape))
        out[name] = data[pos : pos + size].reshape(shape).copy()
        pos += size
    if h.shared_classifier:
        out["wcls"] = out["token_embedding_table"]
    return h, out


def read_tokenizer(tokenizer: Path, vocab_size: int) -> tuple[list[str], list[float]]:
    """Read a llama2.c ``tok*.bin`` file.

    Args:
        tokenizer: path to the tokenizer file.
        vocab_size: number of tokens (from the model header).

    Returns:
        ``(pieces, scores)`` with pieces as llama2.c stores them (spaces, not ``▁``).

    Raises:
        ValueError: when the file is truncated.
    """
    raw = Path(tokenizer).read_bytes()
    pos = 4
    pieces: list[str] = []
    scores: list[float] = []
    for i in range(vocab_size):
        if pos + 8 > len(raw):
            raise ValueError(f"{tokenizer} ends after {i} tokens but the model has {vocab_size}")
        score, length = struct.unpack("<fi", raw[pos : pos + 8])
        pos += 8
        pieces.append(raw[pos : pos + length].decode("utf-8", errors="replace"))
        scores.append(float(score))
        pos += length
    return pieces, scores
