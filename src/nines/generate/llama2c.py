"""Convert a llama2.c checkpoint (e.g. the pretrained ``stories260K``) to a Hugging Face folder.

llama2.c (https://github.com/karpathy/llama2c) stores a tiny Llama as a raw binary:
a 7 x int32 header ``(dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)``
(a negative ``vocab_size`` means the classifier is not tied to the embedding) followed by
float32 tensors in a fixed order. Its tokenizer file ``tok*.bin`` holds
``int32 max_token_length`` then, per token, ``float32 score, int32 length, bytes``.

:func:`convert_llama2c` writes a folder loadable with ``AutoModelForCausalLM`` and
``AutoTokenizer``; reading the two files is :mod:`nines.generate.llama2c_format`. Two details matter for faithfulness:

* RoPE: llama2.c rotates interleaved pairs ``(0, 1), (2, 3), ...`` of each head, Hugging Face
  Llama rotates halves (``rotate_half``). The rows of ``wq``/``wk`` are permuted exactly as in
  Hugging Face's ``convert_llama_weights_to_hf.py`` so both compute the same function.
* Tokenizer: llama2.c encodes by prepending a dummy ``" "``, splitting into characters (UTF-8
  byte fallback ``<0xXX>`` for unknown ones) and then greedily merging the adjacent pair whose
  concatenation has the best score. That is SentencePiece-BPE, which a ``tokenizers`` BPE model
  reproduces when every vocabulary piece ``a + b`` contributes a merge ``(a, b)`` ranked by the
  piece's score. :func:`llama2c_encode` is a direct port of llama2.c's encoder, kept as the
  reference the tests compare against.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nines.generate.llama2c_format import (
    BOS_ID,
    BYTE_OFFSET,
    EOS_ID,
    N_BYTE_TOKENS,
    SHARED_SUBDIR,
    SPACE,
    UNK_ID,
    Llama2cHeader,
    read_header,
    read_tokenizer,
    read_weights,
    stories260k_dir,
)

# --------------------------------------------------------------------------------------------
# reference implementations (llama2.c ported to Python/numpy)


def llama2c_encode(text: str, pieces: list[str], scores: list[float], bos: bool = True) -> list[int]:
    """Encode like llama2.c's ``encode()`` (reference implementation, slow).

    Args:
        text: the text to encode.
        pieces: vocabulary as read by :func:`read_tokenizer`.
        scores: merge scores as read by :func:`read_tokenizer`.
        bos: prepend the BOS token (id 1).

    Returns:
        Token ids.
    """
    lookup = {p: i for i, p in enumerate(pieces) if i >= BYTE_OFFSET + N_BYTE_TOKENS}
    tokens: list[int] = [BOS_ID] if bos else []
    start = len(tokens)
    if text:
        tokens.append(lookup[" "])
    for ch in text:
        if ch in lookup:
            tokens.append(lookup[ch])
        else:
            tokens.extend(b + BYTE_OFFSET for b in ch.encode("utf-8"))
    while True:
        best_score, best_idx, best_id = -1e10, -1, -1
        for i in range(start, len(tokens) - 1):
            merged = pieces[tokens[i]] + pieces[tokens[i + 1]]
            tid = lookup.get(merged)
            if tid is not None and scores[tid] > best_score:
                best_score, best_idx, best_id = scores[tid], i, tid
        if best_idx == -1:
            return tokens
        tokens[best_idx : best_idx + 2] = [best_id]


def llama2c_forward(weights: dict[str, np.ndarray], h: Llama2cHeader, tokens: list[int]) -> np.ndarray:
    """Run llama2.c's forward pass (as in ``run.c``) over ``tokens``, in float64 numpy.

    Args:
        weights: tensors from :func:`read_weights`.
        h: the header.
        tokens: token ids, processed one position at a time with a KV cache.

    Returns:
        ``(len(tokens), vocab_size)`` logits.
    """
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    hs, kv_mul = h.head_size, h.n_heads // h.n_kv_heads
    k_cache = np.zeros((h.n_layers, len(tokens), h.kv_dim))
    v_cache = np.zeros((h.n_layers, len(tokens), h.kv_dim))
    logits = []

    def rmsnorm(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return weight * (x / np.sqrt(np.mean(x * x) + 1e-5))

    for pos, tok in enumerate(tokens):
        x = w["token_embedding_table"][tok].copy()
        for layer in range(h.n_layers):
            xb = rmsnorm(x, w["rms_att_weight"][layer])
            q, k, v = w["wq"][layer] @ xb, w["wk"][layer] @ xb, w["wv"][layer] @ xb
            for i in range(0, h.dim, 2):
                freq = 1.0 / (10000.0 ** ((i % hs) / hs))
                c, s = np.cos(pos * freq), np.sin(pos * freq)
                for vec in (q, k) if i < h.kv_dim else (q,):
                    v0, v1 = vec[i], vec[i + 1]
                    vec[i], vec[i + 1] = v0 * c - v1 * s, v0 * s + v1 * c
            k_cache[layer, pos], v_cache[layer, pos] = k, v
            att_out = np.zeros(h.dim)
            for head in range(h.n_heads):
                qh = q[head * hs : (head + 1) * hs]
                kvh = (head // kv_mul) * hs
                keys = k_cache[layer, : pos + 1, kvh : kvh + hs]
                att = keys @ qh / np.sqrt(hs)
                att = np.exp(att - att.max())
                att /= att.sum()
                att_out[head * hs : (head + 1) * hs] = att @ v_cache[layer, : pos + 1, kvh : kvh + hs]
            x = x + w["wo"][layer] @ att_out
            xb = rmsnorm(x, w["rms_ffn_weight"][layer])
            h1, h3 = w["w1"][layer] @ xb, w["w3"][layer] @ xb
            x = x + w["w2"][layer] @ (h1 / (1.0 + np.exp(-h1)) * h3)
        logits.append(w["wcls"] @ rmsnorm(x, w["rms_final_weight"]))
    return np.stack(logits)


# --------------------------------------------------------------------------------------------
# conversion


def permute_rope(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder ``wq``/``wk`` rows from interleaved-pair RoPE to HF's half-rotation RoPE.

    Same as ``permute`` in transformers' ``convert_llama_weights_to_hf.py``.

    Args:
        w: ``(n_heads * head_size, dim)`` projection.
        n_heads: number of heads the rows are split into (``n_kv_heads`` for ``wk``).

    Returns:
        The permuted matrix.
    """
    rows, cols = w.shape
    return w.reshape(n_heads, rows // n_heads // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def _hf_state_dict(h: Llama2cHeader, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sd: dict[str, np.ndarray] = {"model.embed_tokens.weight": w["token_embedding_table"]}
    for i in range(h.n_layers):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = w["rms_att_weight"][i]
        sd[p + "self_attn.q_proj.weight"] = permute_rope(w["wq"][i], h.n_heads)
        sd[p + "self_attn.k_proj.weight"] = permute_rope(w["wk"][i], h.n_kv_heads)
        sd[p + "self_attn.v_proj.weight"] = w["wv"][i]
        sd[p + "self_attn.o_proj.weight"] = w["wo"][i]
        sd[p + "post_attention_layernorm.weight"] = w["rms_ffn_weight"][i]
        sd[p + "mlp.gate_proj.weight"] = w["w1"][i]
        sd[p + "mlp.down_proj.weight"] = w["w2"][i]
        sd[p + "mlp.up_proj.weight"] = w["w3"][i]
    sd["model.norm.weight"] = w["rms_final_weight"]
    if not h.shared_classifier:
        sd["lm_head.weight"] = w["wcls"]
    return sd


def _hf_pieces(pieces: list[str]) -> list[str]:
    out = []
    for i, p in enumerate(pieces):
        if i == UNK_ID:
            out.append("<unk>")
        elif i == BOS_ID:
            out.append("<s>")
        elif i == EOS_ID:
            out.append("</s>")
        elif i < BYTE_OFFSET + N_BYTE_TOKENS:
            out.append(p)  # '<0x0A>' byte-fallback pieces keep their names
        else:
            out.append(p.replace(" ", SPACE))
    return out


def _bpe_merges(pieces: list[str], scores: list[float]) -> list[tuple[str, str]]:
    """Every split ``(a, b)`` of every piece, ranked by the merged piece's score (best first)."""
    first_normal = BYTE_OFFSET + N_BYTE_TOKENS
    vocab = {p: i for i, p in enumerate(pieces) if i >= first_normal}
    ranked: list[tuple[float, int, int, tuple[str, str]]] = []
    for piece, tid in vocab.items():
        for cut in range(1, len(piece)):
            a, b = piece[:cut], piece[cut:]
            if a in vocab and b in vocab:
                ranked.append((-scores[tid], tid, cut, (a, b)))
    ranked.sort()
    return [m for *_, m in ranked]


def build_tokenizer(pieces: list[str], scores: list[float]):  # -> PreTrainedTokenizerFast
    """Build a ``PreTrainedTokenizerFast`` reproducing llama2.c's encoder and decoder.

    Args:
        pieces: vocabulary as read by :func:`read_tokenizer`.
        scores: scores as read by :func:`read_tokenizer`.

    Returns:
        A fast tokenizer that adds BOS, uses ``</s>`` as EOS and padding token.
    """
    from tokenizers import Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    hf_pieces = _hf_pieces(pieces)
    vocab = {p: i for i, p in enumerate(hf_pieces)}
    merges = [(a.replace(" ", SPACE), b.replace(" ", SPACE)) for a, b in _bpe_merges(pieces, scores)]
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPACE), normalizers.Replace(" ", SPACE)])
    tok.decoder = decoders.Sequence(
        [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", BOS_ID)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>"
    )


def load_llama2c_tokenizer(directory: Path):  # -> PreTrainedTokenizerFast
    """Load the tokenizer of a folder written by :func:`convert_llama2c`.

    Args:
        directory: the converted folder.

    Returns:
        The tokenizer (left padding, ready for batched generation).
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    tok.padding_side = "left"
    return tok


def convert_llama2c(checkpoint: Path, tokenizer: Path, out_dir: Path) -> Path:
    """Convert a llama2.c checkpoint and tokenizer into a Hugging Face model folder.

    Args:
        checkpoint: llama2.c v0 model file (e.g. ``stories260K.bin``).
        tokenizer: llama2.c tokenizer file (e.g. ``tok512.bin``).
        out_dir: folder to write (created if needed).

    Returns:
        ``out_dir``, loadable with ``AutoModelForCausalLM``/``AutoTokenizer``.

    Raises:
        FileNotFoundError: when an input file is missing.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    for path in (checkpoint, tokenizer):
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"{path} not found; pass the llama2.c .bin model and its tok*.bin tokenizer"
            )
    h, weights = read_weights(Path(checkpoint))
    pieces, scores = read_tokenizer(Path(tokenizer), h.vocab_size)
    config = LlamaConfig(
        vocab_size=h.vocab_size,
        hidden_size=h.dim,
        intermediate_size=h.hidden_dim,
        num_hidden_layers=h.n_layers,
        num_attention_heads=h.n_heads,
        num_key_value_heads=h.n_kv_heads,
        max_position_embeddings=h.seq_len,
        rms_norm_eps=1e-5,
        hidden_act="silu",
        tie_word_embeddings=h.shared_classifier,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=EOS_ID,  # default RoPE theta 10000, as llama2.c
    )
    model = LlamaForCausalLM(config)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _hf_state_dict(h, weights).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not (h.shared_classifier and m == "lm_head.weight")]
    if missing or unexpected:
        raise RuntimeError(f"conversion bug: missing {missing}, unexpected {unexpected}")
    if h.shared_classifier:
        model.tie_weights()
    # llama2.c's training data delimits stories with BOS, so the model "ends" a story by emitting BOS.
    model.generation_config = GenerationConfig(
        bos_token_id=BOS_ID, eos_token_id=[EOS_ID, BOS_ID], pad_token_id=EOS_ID
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok = build_tokenizer(pieces, scores)
    tok.padding_side = "left"
    tok.save_pretrained(out_dir)
    (out_dir / "nines_llama2c.json").write_text(
        json.dumps(
            {"source_checkpoint": str(checkpoint), "source_tokenizer": str(tokenizer), "header": h.__dict__}
        )
    )
    return out_dir


__all__ = [
    "BOS_ID", "EOS_ID", "SHARED_SUBDIR", "SPACE", "UNK_ID", "Llama2cHeader", "build_tokenizer", "convert_llama2c",
    "llama2c_encode", "llama2c_forward", "load_llama2c_tokenizer", "permute_rope", "read_header", "read_tokenizer",
    "read_weights", "stories260k_dir",
]
