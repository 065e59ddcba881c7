"""Rejection-sample one request's choices with the saved filter config.

The proxy does not re-implement the filter: each request becomes a small
:class:`~nines.generate.base.Generator` over the upstream (its prompts for ``/v1/completions``,
its conversation for ``/v1/chat/completions``) and runs :func:`nines.filter.filter_generate` on
every prompt repeated ``n`` times. So strategy, batch size, ``max_attempts``, tightening and the
refuse/safest fallback behave exactly as in ``nines filter``, and so does the invariant: a
returned text scored above the threshold it was judged against comes back only with
``rule == "fallback_safest"``.

Seeds: a request's ``seed`` replaces ``filter.seed`` (rounds get seeds derived from it, as in
``nines filter``); without one, the request gets a fresh random base seed (whatever the saved
config says), so identical requests do not all get the same answer, and the rounds of one
request send different seeds upstream even when the upstream would repeat itself without one.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from nines.classify.base import Classifier
from nines.filter import FilterConfig, FilterResult, filter_generate
from nines.generate.base import Completion, PromptLike
from nines.proxy.chat import render_messages
from nines.proxy.config import REFUSED_FINISH_REASON
from nines.proxy.upstream import Sample, SamplingParams, Upstream, UpstreamError


def _completions(samples: Sequence[Sample]) -> list[Completion]:
    return [Completion(s.text, None, {"finish_reason": s.finish_reason}) for s in samples]


class _PromptSource:
    """The upstream as a Generator over ``/v1/completions`` for one request's sampling options."""

    name = "upstream"

    def __init__(self, upstream: Upstream, params: SamplingParams) -> None:
        self.upstream, self.params = upstream, params

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        return [_completions(g) for g in self.upstream.complete(prompts, n, self.params, seed)]


class _ChatSource:
    """The upstream as a Generator over ``/v1/chat/completions`` for one conversation.

    Every "prompt" the filter passes is the same rendered conversation, so a round asks the
    upstream for ``len(prompts) * n`` replies in one call and splits them.
    """

    name = "upstream-chat"

    def __init__(self, upstream: Upstream, messages: list[dict[str, Any]], params: SamplingParams) -> None:
        self.upstream, self.messages, self.params = upstream, messages, params

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        flat = _completions(self.upstream.chat(self.messages, len(prompts) * n, self.params, seed))
        return [flat[i * n:(i + 1) * n] for i in range(len(prompts))]


@dataclass
class Choice:
    """One returned choice: the text, its ``finish_reason`` and the ``nines`` record."""

    text: str
    finish_reason: str
    nines: dict[str, Any]


def _clean(x: float | None) -> float | None:
    """JSON has no NaN: a NaN score (always a rejection) is reported as null."""
    return None if x is None or math.isnan(x) else float(x)


def to_choice(r: FilterResult) -> Choice:
    """The OpenAI choice for one filter result (refused: empty text, ``finish_reason="content_filter"``)."""
    nines = {
        "accepted": r.accepted,
        "rule": r.rule,
        "attempts": r.attempts,
        "rounds": r.rounds,
        "scores": [_clean(s) for s in r.scores],
        "score": _clean(r.score),
        "threshold": r.threshold_used,
        "base_threshold": r.base_threshold,
    }
    if r.completion is None:
        return Choice("", REFUSED_FINISH_REASON, nines)
    return Choice(r.completion, str(r.completion_meta.get("finish_reason") or "stop"), nines)


def _run(source: Any, scorer: Classifier, prompts: list[PromptLike], n: int, cfg: FilterConfig,
         seed: int | None) -> list[Choice]:
    expanded = [p for p in prompts for _ in range(n)]
    if seed is None:  # rounds must differ, and an upstream may be deterministic without a seed
        seed = secrets.randbits(63)
    try:
        results = filter_generate(source, scorer, expanded, replace(cfg, seed=seed), progress=False)
    except UpstreamError:
        raise
    except ValueError as e:  # a malformed upstream answer or a generator refusing the options
        raise UpstreamError(502, f"sampling failed: {e}") from None
    return [to_choice(r) for r in results]


def filter_prompts(upstream: Upstream, scorer: Classifier, cfg: FilterConfig, prompts: list[PromptLike], n: int,
                   params: SamplingParams, seed: int | None) -> list[Choice]:
    """Filtered choices for ``/v1/completions``, ordered ``prompt_idx * n + j`` as OpenAI does.

    Raises:
        UpstreamError: when the upstream failed (its status is what the proxy answers).
    """
    return _run(_PromptSource(upstream, params), scorer, prompts, n, cfg, seed)


def filter_chat(upstream: Upstream, scorer: Classifier, cfg: FilterConfig, messages: list[dict[str, Any]],
                n: int, params: SamplingParams, seed: int | None, chat_prompt: str) -> list[Choice]:
    """``n`` filtered assistant replies; the classifier's prompt is the conversation rendered by ``chat_prompt``.

    Raises:
        UpstreamError: when the upstream failed.
    """
    rendered = render_messages(messages, chat_prompt)
    return _run(_ChatSource(upstream, messages, params), scorer, [rendered], n, cfg, seed)
