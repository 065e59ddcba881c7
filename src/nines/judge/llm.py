"""``LLMJudge``: pairwise judging by any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Each pair is one chat request. The presentation order is randomised per pair (a fair coin from
``seed``) to cancel position bias: when swapped, the model sees the second continuation as "A",
and its verdict is mapped back, so outcomes always refer to the caller's (first, second).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from nines.generate.base import PromptLike, prompt_texts
from nines.generate.openai_compat import OpenAICompatError, post_with_retries
from nines.judge.base import Candidate, check_pairs, text_of

DEFAULT_TEMPLATE = (
    "Here is the start of a story:\n\n{prompt}\n\n"
    "Continuation A:{a}\n\nContinuation B:{b}\n\n"
    "Which continuation is better: coherent, reasonable, fits the story? "
    "Answer A, B or tie, with nothing else."
)
SYSTEM = "You are a careful judge of short fiction. Reply with exactly one of: A, B, tie."

_TOKEN = re.compile(r"[A-Za-z]+")


def parse_verdict(answer: str) -> str | None:
    """``"A"``, ``"B"``, ``"tie"`` or ``None`` (unparseable) from the model's answer.

    The first alphabetic token decides, case-insensitively, so ``"A"``, ``"a."``, ``"**B**"``,
    ``"Tie"``, ``"A - it fits better"`` parse; ``"Answer: B"`` is also accepted (a leading
    ``answer``/``continuation``/``option`` word is skipped). Anything else is ``None``.
    """
    tokens = [t.lower() for t in _TOKEN.findall(answer or "")]
    while tokens and tokens[0] in ("answer", "continuation", "option", "verdict"):
        tokens = tokens[1:]
    if not tokens:
        return None
    first = tokens[0]
    if first in ("a", "b"):
        return first.upper()
    if first in ("tie", "equal", "neither", "both"):
        return "tie"
    return None


class LLMJudge:
    """Pairwise judge backed by an OpenAI-compatible chat endpoint.

    Args:
        base_url: API root, e.g. ``http://localhost:8000/v1`` (``/v1`` is added when there is no path).
        model: the server's model name.
        api_key: bearer token; defaults to ``$OPENAI_API_KEY`` (none sent when unset).
        template: user message with ``{prompt}``, ``{a}`` and ``{b}`` placeholders.
        timeout_s: per-request timeout.
        max_retries: retries after the first attempt on 408/429/5xx and connection errors.
        concurrency: requests in flight at once.
        seed: seeds the presentation-order coin flips.
        backoff_s: first retry delay (doubles per retry).
        client: an ``httpx.Client`` to use instead of a new one.

    Attributes:
        calls: judge calls (pairs) made.
        unparsed: answers that could not be parsed (scored as ties).
        swaps: pairs shown in swapped order.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        template: str = DEFAULT_TEMPLATE,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 8,
        seed: int = 0,
        backoff_s: float = 0.5,
        client: httpx.Client | None = None,
    ) -> None:
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must look like 'http://host:8000/v1', got {base_url!r}")
        if not model:
            raise ValueError("model must be the server's model name (see GET <base_url>/models)")
        for slot in ("{prompt}", "{a}", "{b}"):
            if slot not in template:
                raise ValueError(f"template must contain {slot} (and {{prompt}}, {{a}}, {{b}}); got {template[:80]!r}")
        if timeout_s <= 0 or max_retries < 0 or concurrency < 1:
            raise ValueError("timeout_s must be > 0, max_retries >= 0 and concurrency >= 1")
        url = base_url.rstrip("/")
        self.url = (url + "/v1" if parts.path in ("", "/") else url) + "/chat/completions"
        self.model = model
        self.template = template
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff_s = backoff_s
        token = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.Client(timeout=timeout_s, headers=headers)
        self._rng = np.random.default_rng(seed)
        self.name = f"llm:{model}"
        self.calls = 0
        self.unparsed = 0
        self.swaps = 0

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _payload(self, prompt: str, a: str, b: str) -> dict[str, Any]:
        user = self.template.format(prompt=prompt, a=a, b=b)
        return {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
            "temperature": 0.0,
            "max_tokens": 4,
        }

    def _post(self, payload: dict[str, Any]) -> str:
        """POST with retries (shared with the completions client); the first choice's message content."""
        body = post_with_retries(self._client, self.url, payload, self.max_retries, self.backoff_s, self.model)
        try:
            return str(body["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise OpenAICompatError(
                f"{self.url} answered without choices[0].message.content: {str(body)[:200]}; "
                "is this a chat-completions endpoint?"
            ) from None

    @staticmethod
    def outcome(verdict: str | None, swapped: bool) -> float:
        """Map a verdict on the shown order back to the caller's order (None -> tie)."""
        if verdict == "A":
            return 0.0 if swapped else 1.0
        if verdict == "B":
            return 1.0 if swapped else 0.0
        return 0.5

    def compare(self, prompts: Sequence[PromptLike], first: Sequence[Candidate], second: Sequence[Candidate]) -> np.ndarray:
        """Judge each pair with one chat request, in random presentation order.

        Returns:
            Outcomes in the caller's order: 1.0 first better, 0.0 second better, 0.5 tie or unparseable.

        Raises:
            OpenAICompatError: when the server refuses or keeps failing.
        """
        check_pairs(prompts, first, second)
        swapped = self._rng.random(len(prompts)) < 0.5
        jobs = []
        for p, f, s, sw in zip(prompt_texts(prompts), first, second, swapped):
            a, b = (text_of(s), text_of(f)) if sw else (text_of(f), text_of(s))
            jobs.append(self._payload(p, a, b))
        if len(jobs) <= 1:
            answers = [self._post(j) for j in jobs]
        else:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                answers = list(pool.map(self._post, jobs))
        verdicts = [parse_verdict(a) for a in answers]
        self.calls += len(prompts)
        self.swaps += int(swapped.sum())
        self.unparsed += sum(v is None for v in verdicts)
        return np.array([self.outcome(v, bool(sw)) for v, sw in zip(verdicts, swapped)], dtype=float)
