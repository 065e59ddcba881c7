"""Sliding windows: how a (prompt, completion) pair of any length becomes encoder inputs.

An encoder sees at most ``max_length`` tokens. A pair that fits is fed whole. A pair whose prompt
is too long but whose completion fits keeps the completion whole and the END of the prompt (left
truncation: the end is what the completion continues), exactly as ``truncation="only_first"``
always did, so such pairs score as before.

A completion that is too long on its own is cut into overlapping windows. Each window pairs the
prompt's end (at most ``prompt_share`` of the window) with a span of the completion; consecutive
spans overlap by ``overlap`` of a span, and the last one ends at the completion's end. The pair's
logit is the MAX over its windows: the conservative choice, since an injury anywhere in a long
completion (its start included) must make the filter reject it. Window edges fall on word starts
where one is near, so that no window begins with half a word.

Windows are planned on token ids (the prompt and the completion are tokenised separately, which is
what a pair encoding does too) and turned into model inputs by :func:`build_inputs` with the
tokenizer's own special-token template, probed once by :func:`pair_template`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class WindowConfig:
    """How pairs longer than the encoder's input are windowed.

    Attributes:
        max_length: tokens per encoder input, special tokens included.
        prompt_share: at most this share of a long pair's window holds the prompt's end.
        overlap: share of a completion span that the next window repeats (0 <= overlap < 1).
    """

    max_length: int = 128
    prompt_share: float = 0.25
    overlap: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.prompt_share < 1.0:
            raise ValueError(f"prompt_share must be in [0, 1), got {self.prompt_share}")
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")


@dataclass(frozen=True)
class Window:
    """One encoder input of one pair: token index ranges into the pair's own tokenisation.

    Attributes:
        pair: index of the pair among those planned.
        prompt_start: first prompt token kept (the prompt is kept to its end).
        completion_start, completion_end: the completion tokens ``[start, end)`` kept.
    """

    pair: int
    prompt_start: int
    completion_start: int
    completion_end: int


@dataclass(frozen=True)
class PairTemplate:
    """Where a tokenizer puts special tokens around a pair, and each part's token type id."""

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    types: tuple[int, int, int, int, int]  # prefix, prompt, middle, completion, suffix
    pad_id: int
    uses_token_types: bool

    @property
    def n_special(self) -> int:
        """Special tokens added to every pair."""
        return len(self.prefix) + len(self.middle) + len(self.suffix)


@dataclass
class Tokenised:
    """Prompts and completions tokenised separately, without special tokens.

    ``*_words`` hold, per text, the token indices that start a word (``None`` when the tokenizer
    cannot tell, then any token may start a window). ``*_offsets`` are character spans into each
    text, filled only when asked for.
    """

    prompt_ids: list[list[int]]
    completion_ids: list[list[int]]
    prompt_words: list[list[int] | None]
    completion_words: list[list[int] | None]
    prompt_offsets: list[list[tuple[int, int]]] | None = None
    completion_offsets: list[list[tuple[int, int]]] | None = None


def pair_template(tokenizer: Any) -> PairTemplate:
    """Probe ``tokenizer``'s pair template by encoding two one-token texts with and without specials."""
    a = tokenizer("a", add_special_tokens=False)["input_ids"]
    b = tokenizer("b", add_special_tokens=False)["input_ids"]
    enc = tokenizer("a", "b", add_special_tokens=True)
    ids = list(enc["input_ids"])
    types = list(enc.get("token_type_ids") or [0] * len(ids))
    if len(a) != 1 or len(b) != 1 or a[0] not in ids:
        raise ValueError("cannot probe the tokenizer's pair template (it splits 'a' or 'b' into several tokens)")
    i = ids.index(a[0])
    j = ids.index(b[0], i + 1)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return PairTemplate(tuple(ids[:i]), tuple(ids[i + 1:j]), tuple(ids[j + 1:]),
                        (types[0] if i else 0, types[i], types[i + 1] if j > i + 1 else types[j], types[j],
                         types[-1] if j + 1 < len(ids) else types[j]),
                        int(pad), "token_type_ids" in tokenizer.model_input_names)


def _word_starts(enc: Any, i: int, n: int) -> list[int] | None:
    try:
        words = enc.word_ids(i)
    except (ValueError, AttributeError):  # a slow tokenizer keeps no word alignment
        return None
    return [k for k in range(n) if k == 0 or words[k] != words[k - 1]]


def tokenise(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str],
             offsets: bool = False) -> Tokenised:
    """Tokenise every prompt and completion once (batched), without special tokens or truncation."""
    kw: dict[str, Any] = {"add_special_tokens": False, "truncation": False, "verbose": False}
    if offsets:
        kw["return_offsets_mapping"] = True
    ep = tokenizer(list(prompts), **kw)
    ec = tokenizer(list(completions), **kw)
    p_ids = [list(x) for x in ep["input_ids"]]
    c_ids = [list(x) for x in ec["input_ids"]]
    out = Tokenised(p_ids, c_ids, [_word_starts(ep, i, len(x)) for i, x in enumerate(p_ids)],
                    [_word_starts(ec, i, len(x)) for i, x in enumerate(c_ids)])
    if offsets:
        out.prompt_offsets = [[(int(s), int(e)) for s, e in x] for x in ep["offset_mapping"]]
        out.completion_offsets = [[(int(s), int(e)) for s, e in x] for x in ec["offset_mapping"]]
    return out


def _snap_back(pos: int, lo: int, starts: list[int] | None) -> int:
    """The last word start in ``(lo, pos]``, else ``pos``."""
    if starts is not None:
        for s in reversed(starts):
            if lo < s <= pos:
                return s
            if s <= lo:
                break
    return pos


def _snap_forward(pos: int, hi: int, starts: list[int] | None) -> int:
    """The first word start in ``[pos, hi]``, else ``pos``."""
    if starts is not None:
        for s in starts:
            if pos <= s <= hi:
                return s
    return pos


def plan_pair(pair: int, n_prompt: int, n_completion: int, budget: int, cfg: WindowConfig,
              prompt_words: list[int] | None = None, completion_words: list[int] | None = None) -> list[Window]:
    """The windows of one pair whose prompt has ``n_prompt`` and completion ``n_completion`` tokens.

    ``budget`` is the tokens one input holds besides the special tokens.
    """
    if n_prompt + n_completion <= budget:
        return [Window(pair, 0, 0, n_completion)]
    if n_completion < budget:  # only the prompt is cut, from the left: the historical behaviour
        return [Window(pair, n_prompt + n_completion - budget, 0, n_completion)]
    keep = min(n_prompt, int(budget * cfg.prompt_share))
    # Drop a partial first word of the prompt's end (keeping fewer tokens, never more).
    p_start = _snap_forward(n_prompt - keep, n_prompt, prompt_words) if keep else n_prompt
    span = budget - (n_prompt - p_start)
    stride = max(1, int(span * (1.0 - cfg.overlap)))
    windows: list[Window] = []
    start = 0
    while True:
        if start + span >= n_completion:
            # The last window ends at the completion's end, starting on a word where possible.
            last = _snap_forward(max(0, n_completion - span), n_completion - 1, completion_words)
            windows.append(Window(pair, p_start, max(last, 0), n_completion))
            return windows
        end = _snap_back(start + span, start, completion_words)
        windows.append(Window(pair, p_start, start, end))
        start = max(start + 1, _snap_back(start + stride, start, completion_words))


def plan(tok: Tokenised, budget: int, cfg: WindowConfig) -> list[Window]:
    """Windows of every pair, pair by pair (each pair has at least one)."""
    out: list[Window] = []
    for i, (p, c) in enumerate(zip(tok.prompt_ids, tok.completion_ids)):
        out.extend(plan_pair(i, len(p), len(c), budget, cfg, tok.prompt_words[i], tok.completion_words[i]))
    return out


def window_ids(tok: Tokenised, w: Window, tpl: PairTemplate) -> tuple[list[int], list[int]]:
    """Input ids and token type ids of one window, special tokens included."""
    p = tok.prompt_ids[w.pair][w.prompt_start:]
    c = tok.completion_ids[w.pair][w.completion_start:w.completion_end]
    ids = [*tpl.prefix, *p, *tpl.middle, *c, *tpl.suffix]
    t0, tp, tm, tc, ts = tpl.types
    types = ([t0] * len(tpl.prefix) + [tp] * len(p) + [tm] * len(tpl.middle) + [tc] * len(c)
             + [ts] * len(tpl.suffix))
    return ids, types


def window_length(tok: Tokenised, w: Window, tpl: PairTemplate) -> int:
    """Tokens in the window's input, special tokens included."""
    return len(tok.prompt_ids[w.pair]) - w.prompt_start + w.completion_end - w.completion_start + tpl.n_special


def build_inputs(tok: Tokenised, windows: Sequence[Window], tpl: PairTemplate,
                 device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """A right-padded batch (``input_ids``, ``attention_mask`` and, if used, ``token_type_ids``)."""
    rows = [window_ids(tok, w, tpl) for w in windows]
    width = max(len(ids) for ids, _ in rows)
    ids_t = torch.full((len(rows), width), tpl.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    types_t = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (ids, types) in enumerate(rows):
        ids_t[r, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[r, :len(ids)] = 1
        types_t[r, :len(types)] = torch.tensor(types, dtype=torch.long)
    batch = {"input_ids": ids_t, "attention_mask": mask}
    if tpl.uses_token_types:
        batch["token_type_ids"] = types_t
    return {k: v.to(device) for k, v in batch.items()}
