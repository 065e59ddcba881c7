"""``ProxyConfig``: where the proxy samples from, and what it lets a request ask for.

The filter itself (strategy, batch size, attempts, tightening, fallback) is a
:class:`~nines.filter.FilterConfig`, loaded from the same ``filter.yaml`` that ``nines filter``
uses; this config holds only what is about serving.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

ChatPrompt = Literal["joined", "last_user", "transcript"]
CHAT_PROMPTS: tuple[str, ...] = ("joined", "last_user", "transcript")
API_KEY_ENV = "NINES_PROXY_API_KEY"
UPSTREAM_KEY_ENV = "NINES_UPSTREAM_API_KEY"

# The documented finish_reason of a refused choice. It is the value OpenAI itself uses when
# content was withheld by a filter, so existing clients already know what it means.
REFUSED_FINISH_REASON = "content_filter"


@dataclass
class ProxyConfig:
    """Settings of the filtering proxy.

    Attributes:
        upstream: base URL of any OpenAI-compatible server (``http://host:8000/v1``; ``/v1`` is
            appended when the URL has no path), or ``None`` when a local generator is used.
        upstream_model: the model name sent upstream; ``None`` asks the upstream's
            ``GET /v1/models`` once and uses the first model.
        upstream_api_key: bearer token sent upstream (default ``$NINES_UPSTREAM_API_KEY``).
        model_name: the id this proxy serves under (``GET /v1/models``); ``None`` reuses the
            upstream model name (or the local generator's name).
        api_key: when set, every ``/v1/*`` request needs ``Authorization: Bearer <api_key>``
            (default ``$NINES_PROXY_API_KEY``; ``/health`` and ``/metrics`` stay open).
        max_body_bytes: largest request body accepted (413 above it).
        max_n: largest ``n`` per request.
        max_tokens: largest ``max_tokens`` per request.
        max_prompts: most prompts in one ``/v1/completions`` request.
        timeout_s: per upstream call (connect + read); past it, after retries, the answer is 504.
        max_retries: retries of an upstream call on connection errors, 408, 429 and 5xx.
        backoff_s: first retry delay, doubling each retry.
        upstream_concurrency: upstream calls in flight at once, over all requests.
        max_concurrent_requests: requests being filtered at once (each holds a worker thread
            while it waits on the upstream and the classifier; the event loop never blocks).
        score_batch: most (prompt, completion) pairs per classifier call; concurrent requests'
            pairs are scored together up to this many.
        chat_prompt: how a chat conversation becomes the classifier's prompt: ``"joined"`` (the
            non-system messages' contents joined by newlines, so the end of the story is last,
            where left truncation keeps it), ``"last_user"`` (only the last user message) or
            ``"transcript"`` (every message as ``role: content``).
        stream_chunk_chars: approximate characters per streamed chunk of accepted text.
    """

    upstream: str | None = None
    upstream_model: str | None = None
    upstream_api_key: str | None = None
    model_name: str | None = None
    api_key: str | None = None
    max_body_bytes: int = 1_000_000
    max_n: int = 8
    max_tokens: int = 512
    max_prompts: int = 16
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_s: float = 0.2
    upstream_concurrency: int = 32
    max_concurrent_requests: int = 64
    score_batch: int = 256
    chat_prompt: ChatPrompt = "joined"
    stream_chunk_chars: int = 16

    def __post_init__(self) -> None:
        """Validate and normalise.

        Raises:
            ValueError: naming the field and how to fix it.
        """
        if self.upstream is not None:
            parts = urlsplit(self.upstream)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"upstream must look like 'http://host:8000/v1', got {self.upstream!r}")
            self.upstream = self.upstream.rstrip("/")
            if parts.path in ("", "/"):
                self.upstream += "/v1"
        if self.api_key is None:
            self.api_key = os.environ.get(API_KEY_ENV) or None
        if self.upstream_api_key is None:
            self.upstream_api_key = os.environ.get(UPSTREAM_KEY_ENV) or None
        if self.chat_prompt not in CHAT_PROMPTS:
            raise ValueError(f"chat_prompt must be one of {', '.join(CHAT_PROMPTS)}, got {self.chat_prompt!r}")
        positive = ("max_body_bytes", "max_n", "max_tokens", "max_prompts", "upstream_concurrency",
                    "max_concurrent_requests", "score_batch", "stream_chunk_chars")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.timeout_s > 0 or self.backoff_s < 0:
            raise ValueError(f"timeout_s must be > 0 and backoff_s >= 0, got {self.timeout_s}, {self.backoff_s}")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
