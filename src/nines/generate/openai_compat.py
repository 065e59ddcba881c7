"""``OpenAICompletionsGenerator``: any OpenAI-compatible ``/v1/completions`` server (vLLM, ...).

Prompts are sent in batches (the API accepts a list of prompts); each request asks for
``logprobs=1`` so ``Completion.logprob`` is the sum of ``choices[i].logprobs.token_logprobs``
(``None`` when the server returns none). Choices are put back in order with their ``index``
(``prompt_idx * n + j``). Requests run concurrently in a thread pool and are retried with
exponential backoff on 429, 5xx and connection errors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from nines.generate.base import Completion, Prompt, PromptLike, as_prompts

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class OpenAICompatError(RuntimeError):
    """The server refused a request or kept failing after all retries."""


@dataclass
class OpenAIGeneratorConfig:
    """Settings of :class:`OpenAICompletionsGenerator`.

    Attributes:
        base_url: API root, e.g. ``http://localhost:8000/v1`` (``/v1`` is appended when the URL
            has no path).
        model: model name the server knows (see ``GET /v1/models``).
        api_key: bearer token; defaults to ``$OPENAI_API_KEY`` (none sent when unset).
        max_tokens: most tokens per completion.
        temperature: sampling temperature.
        top_p: nucleus sampling mass.
        stop: stop strings (excluded from the text by the server).
        timeout_s: per-request timeout.
        max_retries: retries after the first attempt on 429/5xx/connection errors.
        concurrency: requests in flight at once.
        batch_size: prompts per request.
        backoff_s: first retry delay; doubles each retry (a ``Retry-After`` header wins, capped at 60 s).
        send_prompt_ids: also send each prompt's id as ``prompt_ids`` (a nines extension the nines
            server understands, so a backend such as StoryWorld behind it gets its own Prompts back).
            Off by default: hosted APIs reject unknown request fields.
    """

    base_url: str
    model: str
    api_key: str | None = None
    max_tokens: int = 40
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=lambda: ["\n"])
    timeout_s: float = 60.0
    max_retries: int = 3
    concurrency: int = 8
    batch_size: int = 16
    backoff_s: float = 0.5
    send_prompt_ids: bool = False

    def __post_init__(self) -> None:
        """Validate and normalise the settings.

        Raises:
            ValueError: with a hint on how to fix the offending field.
        """
        parts = urlsplit(self.base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must look like 'http://host:8000/v1', got {self.base_url!r}")
        self.base_url = self.base_url.rstrip("/")
        if parts.path in ("", "/"):
            self.base_url += "/v1"
        if not self.model:
            raise ValueError("model must be the server's model name (see GET <base_url>/models)")
        if self.api_key is None:
            self.api_key = os.environ.get("OPENAI_API_KEY")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.timeout_s <= 0 or self.max_retries < 0 or self.concurrency < 1 or self.batch_size < 1:
            raise ValueError("timeout_s must be > 0, max_retries >= 0, concurrency >= 1 and batch_size >= 1")
        if isinstance(self.stop, str):
            self.stop = [self.stop]


def _server_message(resp: httpx.Response) -> str:
    """The error message in an OpenAI-style (``error.message``) or FastAPI (``detail``) body."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
        if err:
            return str(err)
        if "detail" in body:
            return str(body["detail"])
    return str(body)[:500]


def _retry_delay(resp: httpx.Response | None, attempt: int, backoff_s: float) -> float:
    if resp is not None:
        try:
            return min(60.0, float(resp.headers.get("retry-after", "")))
        except ValueError:
            pass
    return backoff_s * 2**attempt


def post_with_retries(client: httpx.Client, url: str, payload: dict[str, Any], max_retries: int,
                      backoff_s: float, model: str) -> dict[str, Any]:
    """POST JSON to an OpenAI-compatible endpoint, retrying 408/429/5xx and connection errors.

    Backs off exponentially (or as ``Retry-After`` says); any other 4xx raises at once with the
    server's own message, since retrying cannot fix a bad request.

    Raises:
        OpenAICompatError: on a refused request or when every attempt failed.
    """
    last = ""
    for attempt in range(max_retries + 1):
        resp: httpx.Response | None = None
        try:
            resp = client.post(url, json=payload)
        except httpx.TransportError as e:
            last = f"connection error: {e!r}"
        else:
            if resp.status_code < 400:
                return resp.json()
            msg = _server_message(resp)
            if resp.status_code not in _RETRY_STATUS:
                raise OpenAICompatError(
                    f"{url} refused the request with HTTP {resp.status_code}: {msg} "
                    f"(model={model!r}; check the model name and parameters)"
                )
            last = f"HTTP {resp.status_code}: {msg}"
        if attempt < max_retries:
            time.sleep(_retry_delay(resp, attempt, backoff_s))
    raise OpenAICompatError(
        f"{url} failed after {max_retries + 1} attempts; last error: {last}. "
        "Is the server running and reachable? Raise max_retries/timeout_s if it is overloaded."
    )


class OpenAICompletionsGenerator:
    """A :class:`~nines.generate.base.Generator` for an OpenAI-compatible completions API.

    Args:
        config: settings.
        client: an ``httpx.Client`` to use instead of a new one (tests, custom transports).
    """

    def __init__(self, config: OpenAIGeneratorConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = f"openai:{config.model}"
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._client = client or httpx.Client(timeout=config.timeout_s, headers=headers)
        self._url = f"{config.base_url}/completions"

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """Sample ``n`` completions per prompt.

        Args:
            prompts: :class:`~nines.generate.base.Prompt` objects or plain strings; the text is sent,
                and with ``config.send_prompt_ids`` the ids too (the nines server's ``prompt_ids``).
            n: completions per prompt.
            seed: passed to the server (offset per batch); determinism is up to the server.

        Returns:
            One list of ``n`` completions per prompt, in prompt order.

        Raises:
            OpenAICompatError: on a 4xx answer or when retries are exhausted.
        """
        ided = as_prompts(prompts)  # raises for a single string
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        bs = self.config.batch_size
        batches = [ided[i : i + bs] for i in range(0, len(ided), bs)]
        seeds = [None if seed is None else seed + b for b in range(len(batches))]
        if len(batches) <= 1:
            results = [self._request_batch(b, n, s) for b, s in zip(batches, seeds)]
        else:
            with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
                results = list(
                    pool.map(lambda a: self._request_batch(*a), [(b, n, s) for b, s in zip(batches, seeds)])
                )
        return [group for batch in results for group in batch]

    def _payload(self, prompts: list[Prompt], n: int, seed: int | None) -> dict[str, Any]:
        cfg = self.config
        payload: dict[str, Any] = {
            "model": cfg.model,
            "prompt": [p.text for p in prompts],
            "n": n,
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "logprobs": 1,
        }
        if cfg.stop:
            payload["stop"] = list(cfg.stop)
        if seed is not None:
            payload["seed"] = seed
        if cfg.send_prompt_ids:
            payload["prompt_ids"] = [p.id for p in prompts]
        return payload

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with retries; returns the decoded JSON body."""
        cfg = self.config
        return post_with_retries(self._client, self._url, payload, cfg.max_retries, cfg.backoff_s, cfg.model)

    def _request_batch(self, prompts: list[Prompt], n: int, seed: int | None) -> list[list[Completion]]:
        body = self._post(self._payload(prompts, n, seed))
        choices = sorted(body.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != len(prompts) * n:
            raise OpenAICompatError(
                f"{self._url} returned {len(choices)} choices for {len(prompts)} prompts x n={n}; "
                "the server may not support list prompts, lower batch_size to 1"
            )
        comps = [_to_completion(c) for c in choices]
        return [comps[i * n : (i + 1) * n] for i in range(len(prompts))]


def _to_completion(choice: dict[str, Any]) -> Completion:
    lp = choice.get("logprobs") or {}
    token_lps = lp.get("token_logprobs") if isinstance(lp, dict) else None
    if not isinstance(token_lps, list):
        token_lps = None
    total = None if token_lps is None else float(sum(x for x in token_lps if x is not None))
    meta: dict[str, Any] = {"finish_reason": choice.get("finish_reason")}
    if token_lps is not None:
        meta["tokens"] = lp.get("tokens")
        meta["token_logprobs"] = token_lps
    return Completion(text=choice.get("text", ""), logprob=total, meta=meta)
