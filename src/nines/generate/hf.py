"""``HFGenerator``: sample completions from any ``transformers`` causal language model.

Completions are sampled with ``model.generate(do_sample=True, ...)`` in left-padded batches.
``Completion.logprob`` is the sum of the log-probabilities of the *kept* completion tokens under
the model's own distribution (temperature 1, no top-p), taken from the raw logits returned by
``generate(output_logits=True)``. When the text is cut (first sentence end, a stop string, or
EOS), the kept tokens are the shortest prefix of the sampled tokens whose decoded text covers the
kept text; EOS itself is never counted.

``Completion.meta`` holds ``token_ids`` (kept tokens), ``tokens`` (their decoded pieces),
``token_logprobs`` (per kept token) and ``finish_reason`` (``"stop"`` or ``"length"``).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from transformers import StoppingCriteria

from nines.generate.base import Completion, PromptLike, prompt_texts

_DTYPES = ("auto", "float32", "float16", "bfloat16")
# '.', '!' or '?' (possibly repeated) followed by closing quotes, whitespace or the end of the text.
_SENTENCE_END = re.compile(r"[.!?]+(?:[\"'\u201d\u2019]+|(?=\s)|\Z)")


@dataclass
class HFGeneratorConfig:
    """Settings of :class:`HFGenerator`.

    Attributes:
        model: local folder or hub id of a causal LM.
        max_new_tokens: most tokens sampled per completion.
        temperature: sampling temperature (> 0).
        top_p: nucleus sampling mass in (0, 1].
        stop_at_sentence_end: cut each completion after its first sentence end ('.', '!' or '?'
            followed by whitespace, a closing quote or the end of the text).
        stop: extra stop strings; the completion is cut *before* the first one.
        batch_size: prompts per ``generate`` call (each yields ``n`` sequences).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), ``"float32"``, ``"float16"``, ``"bfloat16"``.
    """

    model: str
    max_new_tokens: int = 40
    temperature: float = 1.0
    top_p: float = 1.0
    stop_at_sentence_end: bool = True
    stop: tuple[str, ...] = field(default_factory=tuple)
    batch_size: int = 16
    device: str = "auto"
    dtype: str = "auto"

    def __post_init__(self) -> None:
        """Validate the settings.

        Raises:
            ValueError: with a hint on how to fix the offending field.
        """
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("HFGeneratorConfig.model must be a local folder or hub id, e.g. 'gpt2'")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive int, got {self.max_new_tokens!r}")
        if not self.temperature > 0:
            raise ValueError(
                f"temperature must be > 0 (use a small value like 1e-3 for near-greedy), got {self.temperature}"
            )
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {self.dtype!r}")
        if isinstance(self.stop, str):
            self.stop = (self.stop,)
        self.stop = tuple(self.stop)
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop must be a list of non-empty strings, got {self.stop!r}")


def cut_text(text: str, stop_at_sentence_end: bool, stop: Sequence[str] = ()) -> str:
    """Cut ``text`` after its first sentence end and before its first stop string.

    Args:
        text: the completion text.
        stop_at_sentence_end: whether to cut after the first sentence end.
        stop: stop strings (excluded from the result).

    Returns:
        The kept prefix of ``text``.
    """
    end = len(text)
    if stop_at_sentence_end:
        m = _SENTENCE_END.search(text)
        if m:
            end = m.end()
    for s in stop:
        i = text.find(s)
        if i != -1:
            end = min(end, i)
    return text[:end]


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'")
    return device


def _resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, dtype)


def _load(config: HFGeneratorConfig) -> tuple[Any, Any]:
    """Load model and tokenizer from a local folder, the hub cache, or (last) the hub."""
    local = Path(config.model).expanduser()
    looks_like_path = config.model.startswith(("/", ".", "~")) or config.model.count("/") > 1
    if looks_like_path and not local.exists():
        raise FileNotFoundError(
            f"model {config.model!r} not found locally: no such folder. Pass a folder with config.json, "
            "weights and tokenizer files (e.g. one written by save_pretrained), or a hub id like 'gpt2'"
        )
    source = str(local) if local.exists() else config.model
    device = _resolve_device(config.device)
    dtype = _resolve_dtype(config.dtype, device)
    try:  # local folder or hub cache first: no network
        return _from_pretrained(source, dtype, device, local_files_only=True)
    except (OSError, ValueError) as e:
        if local.exists() or os.environ.get("HF_HUB_OFFLINE"):
            raise FileNotFoundError(_not_found(config.model, e)) from e
    try:
        return _from_pretrained(source, dtype, device, local_files_only=False)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(_not_found(config.model, e)) from e


def _not_found(model: str, err: Exception) -> str:
    return (
        f"model {model!r} not found locally and cannot be downloaded (offline?): "
        "pass an existing folder with config.json, weights and tokenizer files, "
        "or a hub id already in the Hugging Face cache (set HF_HOME if it lives elsewhere). "
        f"Underlying error: {err}"
    )


def _from_pretrained(source: str, dtype: Any, device: str, local_files_only: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, local_files_only=local_files_only)
    return model.to(device).eval(), tokenizer  # type: ignore[arg-type]


class _CutCriteria(StoppingCriteria):
    """Stops a row once its text has a cut point that later tokens cannot move.

    Pure speed-up: rows stopped here would be cut at the same place anyway, and the random
    draws of the other rows are unaffected.
    """

    def __init__(self, tokenizer: Any, prompt_len: int, config: HFGeneratorConfig) -> None:
        self.tokenizer, self.prompt_len, self.config = tokenizer, prompt_len, config

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
        done = [len(cut_text(t, self.config.stop_at_sentence_end, self.config.stop)) < len(t) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class HFGenerator:
    """A :class:`~nines.generate.base.Generator` backed by a ``transformers`` causal LM.

    Args:
        config: settings; optional when ``model`` and ``tokenizer`` are given.
        model: an already loaded causal LM (skips loading from ``config.model``).
        tokenizer: its tokenizer (required with ``model``).
        name: overrides the default name ``hf:<config.model>``.
    """

    def __init__(
        self,
        config: HFGeneratorConfig | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
        name: str | None = None,
    ) -> None:
        if (model is None) != (tokenizer is None):
            raise ValueError("pass both model= and tokenizer= (or neither, to load from config.model)")
        if config is None:
            if model is None:
                raise ValueError("pass a HFGeneratorConfig(model='path-or-hub-id') or model= and tokenizer=")
            config = HFGeneratorConfig(model=str(getattr(model.config, "_name_or_path", "") or "custom"))
        self.config = config
        if model is None:
            model, tokenizer = _load(config)
        elif config.device != "auto":
            model = model.to(_resolve_device(config.device))
        self.model = model.eval()
        self.tokenizer = _prepare_tokenizer(tokenizer, model)
        self.name = name or f"hf:{config.model}"

    def with_options(self, **overrides: Any) -> HFGenerator:
        """Return a generator sharing model and tokenizer with some settings changed.

        Args:
            **overrides: ``HFGeneratorConfig`` fields (``max_new_tokens``, ``temperature``, ...).

        Returns:
            A new generator; ``self`` is unchanged.
        """
        clone = copy.copy(self)
        clone.config = replace(self.config, **overrides)
        return clone

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """Sample ``n`` completions per prompt.

        Args:
            prompts: :class:`~nines.generate.base.Prompt` objects or plain strings (their text is continued).
            n: completions per prompt.
            seed: makes the result reproducible (same prompts, batch size and device).

        Returns:
            One list of ``n`` completions per prompt, in prompt order.
        """
        import torch

        texts = prompt_texts(prompts)  # raises for a single string
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        bs = self.config.batch_size
        batches = [texts[i : i + bs] for i in range(0, len(texts), bs)]
        out: list[list[Completion]] = []
        iterator: Any = batches
        if len(batches) > 1:
            from tqdm.auto import tqdm

            iterator = tqdm(batches, desc=f"generate {self.name}", unit="batch")
        devices = [self.model.device] if self.model.device.type == "cuda" else []
        for b, batch in enumerate(iterator):
            if seed is None:
                # No seed: draw from (and advance) the global RNG, so a resample differs from the last
                # sample. Forking here would restore the state and repeat the same text on every call.
                out.extend(self._generate_batch(batch, n))
                continue
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(int(np.random.SeedSequence([seed, b]).generate_state(1)[0]))
                out.extend(self._generate_batch(batch, n))
        return out

    def _generate_batch(self, prompts: list[str], n: int) -> list[list[Completion]]:
        import torch
        from transformers import StoppingCriteriaList

        tok, cfg = self.tokenizer, self.config
        enc = tok(prompts, return_tensors="pt", padding=True).to(self.model.device)
        prompt_len = enc["input_ids"].shape[1]
        criteria = []
        if cfg.stop_at_sentence_end or cfg.stop:
            criteria.append(_CutCriteria(tok, prompt_len, cfg))
        with torch.no_grad():
            res = self.model.generate(
                **enc,
                do_sample=True,
                num_return_sequences=n,
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                top_k=0,
                pad_token_id=tok.pad_token_id,
                return_dict_in_generate=True,
                output_logits=True,
                stopping_criteria=StoppingCriteriaList(criteria),
            )
        gen = res.sequences[:, prompt_len:]
        token_lp = torch.stack(
            [
                torch.log_softmax(step.float(), dim=-1).gather(1, gen[:, t : t + 1])[:, 0]
                for t, step in enumerate(res.logits)
            ],
            dim=1,
        ).cpu()
        gen_list = gen.cpu().tolist()
        prompt_ids = [
            ids[mask.bool()].tolist()
            for ids, mask in zip(enc["input_ids"].cpu(), enc["attention_mask"].cpu())
        ]
        completions = [
            self._completion(prompt_ids[row // n], gen_list[row], token_lp[row].tolist())
            for row in range(len(gen_list))
        ]
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _eos_ids(self) -> set[int]:
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def _completion(self, prompt_ids: list[int], gen_ids: list[int], lps: list[float]) -> Completion:
        """Cut one sampled row and sum the log-probs of the tokens it keeps."""
        eos = self._eos_ids()
        end = next((i for i, t in enumerate(gen_ids) if t in eos), None)
        ids = gen_ids if end is None else gen_ids[:end]
        texts = self._prefix_texts(prompt_ids, ids)
        full = texts[-1]
        text = cut_text(full, self.config.stop_at_sentence_end, self.config.stop)
        # shortest prefix of tokens whose text covers the kept text
        k = next(i for i, t in enumerate(texts) if len(t) >= len(text) and t.startswith(text))
        cut = len(text) < len(full)
        finish = "stop" if (cut or end is not None) else "length"
        kept = ids[:k]
        pieces = [
            texts[i + 1][len(texts[i]) :] if texts[i + 1].startswith(texts[i]) else "" for i in range(k)
        ]
        return Completion(
            text=text,
            logprob=float(sum(lps[:k])),
            meta={"token_ids": kept, "tokens": pieces, "token_logprobs": lps[:k], "finish_reason": finish},
        )

    def _prefix_texts(self, prompt_ids: list[int], ids: list[int]) -> list[str]:
        """Continuation text after 0, 1, ..., len(ids) tokens (decoded with the prompt as context)."""
        decoded = self.tokenizer.batch_decode(
            [prompt_ids + ids[:k] for k in range(len(ids) + 1)], skip_special_tokens=True
        )
        base = decoded[0]
        return [d[len(base) :] if d.startswith(base) else d for d in decoded]


def _prepare_tokenizer(tokenizer: Any, model: Any) -> Any:
    """Left padding, and a padding token (EOS) when the tokenizer has none."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                "the tokenizer has neither a pad nor an eos token; set tokenizer.pad_token first"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
