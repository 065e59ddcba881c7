"""Where the proxy's samples come from: an OpenAI-compatible server over async httpx, or a local generator.

Both implement :class:`Upstream`, whose methods are called from the proxy's worker threads (the
rejection-sampling loop, :func:`nines.filter.filter_generate`, is synchronous). The HTTP upstream
runs every call as a coroutine on the server's event loop, so calls from all requests share one
connection pool and run concurrently, while the waiting worker thread never blocks the loop.

Failures become :class:`UpstreamError` with the HTTP status the proxy answers with: 504 when the
upstream timed out, 502 when it is unreachable or kept failing, 400 when it rejected the request
itself (retrying cannot fix that).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from nines.generate.base import Generator, Prompt, PromptLike, prompt_texts
from nines.generate.openai_compat import _server_message
from nines.proxy.chat import render_messages
from nines.proxy.config import ProxyConfig

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
_CLIENT_ERRORS = {400, 404, 413, 422}  # the request was bad, not the proxy's upstream setup


class UpstreamError(RuntimeError):
    """The upstream failed; ``status`` is what the proxy answers (502, 504 or 400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Sample:
    """One sampled text and why it ended (``stop`` or ``length``)."""

    text: str
    finish_reason: str = "stop"


@dataclass
class SamplingParams:
    """The sampling options a request passes through to the upstream (``None``: upstream default)."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """The fields to send, leaving out those not set."""
        out: dict[str, Any] = {k: v for k, v in (("max_tokens", self.max_tokens), ("temperature", self.temperature),
                                                  ("top_p", self.top_p)) if v is not None}
        if self.stop:
            out["stop"] = list(self.stop)
        return out


class Upstream(Protocol):
    """A source of samples; its methods are called from worker threads, never on the event loop."""

    def model_id(self) -> str:
        """The model name samples come from."""
        ...

    def complete(self, prompts: Sequence[PromptLike], n: int, params: SamplingParams,
                 seed: int | None) -> list[list[Sample]]:
        """``n`` samples per prompt, in prompt order."""
        ...

    def chat(self, messages: list[dict[str, Any]], n: int, params: SamplingParams, seed: int | None) -> list[Sample]:
        """``n`` assistant replies to the conversation."""
        ...


class HTTPUpstream:
    """An OpenAI-compatible server reached with ``httpx.AsyncClient`` on the proxy's event loop.

    Args:
        config: the proxy settings (URL, model, key, timeout, retries, concurrency).
        loop: the running event loop the calls are scheduled on.
    """

    def __init__(self, config: ProxyConfig, loop: asyncio.AbstractEventLoop) -> None:
        if config.upstream is None:
            raise ValueError("HTTPUpstream needs config.upstream")
        self.config = config
        self.base_url = config.upstream
        self.loop = loop
        headers = {"Authorization": f"Bearer {config.upstream_api_key}"} if config.upstream_api_key else {}
        limits = httpx.Limits(max_connections=config.upstream_concurrency,
                              max_keepalive_connections=config.upstream_concurrency)
        self.client = httpx.AsyncClient(timeout=config.timeout_s, headers=headers, limits=limits)
        self._model = config.upstream_model
        self._model_lock = threading.Lock()
        self.calls = 0  # upstream HTTP attempts, for /metrics

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def model_id(self) -> str:
        """The configured model, or the first one the upstream's ``GET /models`` lists (asked once)."""
        with self._model_lock:
            if self._model is None:
                body = self._run(self._request("GET", "/models", None))
                data = body.get("data") if isinstance(body, dict) else None
                if not data or not isinstance(data[0], dict) or "id" not in data[0]:
                    raise UpstreamError(502, f"{self.base_url}/models lists no model; pass --upstream-model")
                self._model = str(data[0]["id"])
            return self._model

    def complete(self, prompts: Sequence[PromptLike], n: int, params: SamplingParams,
                 seed: int | None) -> list[list[Sample]]:
        """One ``POST /completions`` with the prompt list; choices are regrouped by ``index``."""
        payload = {"model": self.model_id(), "prompt": prompt_texts(prompts), "n": n, **params.payload()}
        if prompts and all(isinstance(p, Prompt) for p in prompts):  # the client sent ids: pass them on
            payload["prompt_ids"] = [p.id for p in prompts]  # type: ignore[union-attr]
        if seed is not None:
            payload["seed"] = seed
        body = self._run(self._request("POST", "/completions", payload))
        choices = _choices(body, len(prompts) * n, self.base_url)
        flat = [Sample(str(c.get("text") or ""), str(c.get("finish_reason") or "stop")) for c in choices]
        return [flat[i * n:(i + 1) * n] for i in range(len(prompts))]

    def chat(self, messages: list[dict[str, Any]], n: int, params: SamplingParams, seed: int | None) -> list[Sample]:
        """One ``POST /chat/completions`` asking for ``n`` choices."""
        payload = {"model": self.model_id(), "messages": messages, "n": n, **params.payload()}
        if seed is not None:
            payload["seed"] = seed
        body = self._run(self._request("POST", "/chat/completions", payload))
        out = []
        for c in _choices(body, n, self.base_url):
            msg = c["message"] if isinstance(c.get("message"), dict) else {}
            out.append(Sample(str(msg.get("content") or ""), str(c.get("finish_reason") or "stop")))
        return out

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        """One call with retries on connection errors, 408, 429 and 5xx (exponential backoff)."""
        url = f"{self.base_url}{path}"
        cfg = self.config
        last, timed_out = "", False
        for attempt in range(cfg.max_retries + 1):
            if attempt:
                await asyncio.sleep(cfg.backoff_s * 2 ** (attempt - 1))
            self.calls += 1
            try:
                resp = await self.client.request(method, url, json=payload)
            except httpx.TimeoutException as e:
                last, timed_out = f"timed out after {cfg.timeout_s:g} s ({type(e).__name__})", True
                continue
            except httpx.TransportError as e:
                last, timed_out = f"cannot connect ({type(e).__name__}: {e})", False
                continue
            if resp.status_code < 400:
                try:
                    return resp.json()
                except ValueError:
                    raise UpstreamError(502, f"upstream {url} answered with non-JSON: {resp.text[:200]!r}") from None
            msg = _server_message(resp)
            if resp.status_code in _CLIENT_ERRORS:
                raise UpstreamError(400, f"upstream {url} rejected the request (HTTP {resp.status_code}): {msg}")
            if resp.status_code not in _RETRY_STATUS:
                raise UpstreamError(502, f"upstream {url} refused with HTTP {resp.status_code}: {msg}")
            last, timed_out = f"HTTP {resp.status_code}: {msg}", resp.status_code == 504
        status = 504 if timed_out else 502
        raise UpstreamError(status, f"upstream {url} failed after {cfg.max_retries + 1} attempts: {last}")


def _choices(body: Any, expected: int, base_url: str) -> list[dict[str, Any]]:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or len(choices) != expected or not all(isinstance(c, dict) for c in choices):
        got = len(choices) if isinstance(choices, list) else type(choices).__name__
        raise UpstreamError(502, f"upstream {base_url} returned {got} choices where {expected} were asked for")
    return sorted(choices, key=lambda c: c.get("index", 0))


class LocalUpstream:
    """A nines :class:`~nines.generate.base.Generator` in this process (``--generator SPEC``).

    Calls are serialised with a lock (models are not thread safe). Chat conversations are
    rendered with the ``"joined"`` rule (:mod:`nines.proxy.chat`) as the generator's prompt.
    Sampling options reach the generator only if it has ``with_options`` (as ``HFGenerator``).
    """

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self._lock = threading.Lock()
        self.calls = 0

    def model_id(self) -> str:
        """The generator's name."""
        return str(getattr(self.generator, "name", "local"))

    def _generator(self, params: SamplingParams) -> Any:
        opts: dict[str, Any] = {}
        if params.max_tokens is not None:
            opts["max_new_tokens"] = params.max_tokens
        if params.temperature is not None:
            opts["temperature"] = max(params.temperature, 1e-4)
        if params.top_p is not None:
            opts["top_p"] = params.top_p
        if params.stop:
            opts["stop"] = tuple(params.stop)
        if opts and hasattr(self.generator, "with_options"):
            return self.generator.with_options(**opts)
        return self.generator

    def complete(self, prompts: Sequence[PromptLike], n: int, params: SamplingParams,
                 seed: int | None) -> list[list[Sample]]:
        """``n`` samples per prompt from the local generator."""
        gen = self._generator(params)
        try:
            with self._lock:
                self.calls += 1
                groups = gen.generate(list(prompts), n=n, seed=seed)
        except (ValueError, TypeError) as e:  # the generator refused this request's input
            raise UpstreamError(400, f"the generator rejected the request: {e}") from None
        except Exception as e:  # the generator itself failed
            raise UpstreamError(502, f"the generator failed: {type(e).__name__}: {e}") from None
        return [[Sample(c.text, str(c.meta.get("finish_reason") or "stop")) for c in g] for g in groups]

    def chat(self, messages: list[dict[str, Any]], n: int, params: SamplingParams, seed: int | None) -> list[Sample]:
        """``n`` continuations of the conversation rendered as text."""
        return self.complete([render_messages(messages, "joined")], n, params, seed)[0]
