"""``create_proxy_app``: the OpenAI-compatible filtering proxy as a FastAPI app.

Routes: ``POST /v1/completions``, ``POST /v1/chat/completions``, ``GET /v1/models``,
``GET /health`` and ``GET /metrics`` (Prometheus text). Every choice is rejection-sampled with
the filter config (:mod:`nines.proxy.sampling`); each choice gains a ``nines`` object
(``accepted``, ``rule``, ``attempts``, ``rounds``, ``scores``, ``score``, ``threshold``,
``base_threshold``). A refused choice is a normal choice with empty text and
``finish_reason: "content_filter"``, never an error. Errors use OpenAI's shape
``{"error": {"message", "type", "param", "code"}}``: 400 bad request, 401 missing or wrong
bearer token, 404 unknown model or route, 413 body too large, 502 upstream unreachable or
failing, 504 upstream timed out, 500 anything else.

The filtering of a request runs in a worker thread (upstream calls are scheduled back onto the
event loop as async httpx calls; the classifier is shared through a :class:`ScoreBatcher`), so
no request blocks the loop for the others.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nines.classify.base import Classifier
from nines.filter import FilterConfig
from nines.generate.base import Generator
from nines.proxy.config import ProxyConfig
from nines.proxy.metrics import ProxyMetrics
from nines.proxy.sampling import Choice, filter_chat, filter_prompts
from nines.proxy.schema import ChatBody, CompletionsBody, ProxyHTTPError, check_limits, parse_body
from nines.proxy.scoring import ScoreBatcher
from nines.proxy.streaming import chat_events, completion_events
from nines.proxy.upstream import HTTPUpstream, LocalUpstream, Upstream, UpstreamError

REFUSAL_MESSAGE = "nines: every sampled reply was rejected by the classifier, so none is returned"


@dataclass
class ProxyState:
    """What the routes share."""

    config: ProxyConfig
    filter: FilterConfig
    scorer: ScoreBatcher
    executor: ThreadPoolExecutor
    metrics: ProxyMetrics = field(default_factory=ProxyMetrics)
    upstream: Upstream | None = None

    def served_name(self) -> str:
        """The model id clients use (asks the upstream once when not configured; worker thread only)."""
        if self.config.model_name:
            return self.config.model_name
        assert self.upstream is not None
        return self.upstream.model_id()


def _error(e: ProxyHTTPError) -> JSONResponse:
    return JSONResponse(status_code=e.status, content=e.body())


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes without reading it all (413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProxyHTTPError(413, f"request body of {declared} bytes exceeds this proxy's limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProxyHTTPError(413, f"request body exceeds this proxy's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_auth(request: Request, key: str | None) -> None:
    if not key:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
        raise ProxyHTTPError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                             "authentication_error")


def _head(kind: str, model: str) -> dict[str, Any]:
    prefix = "chatcmpl" if kind.startswith("chat") else "cmpl"
    return {"id": f"{prefix}-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()), "model": model}


def _completions_response(choices: list[Choice], model: str, stream: bool, chunk: int) -> Response:
    if stream:
        events = completion_events(choices, _head("text_completion", model), chunk)
        return StreamingResponse(events, media_type="text/event-stream")
    return JSONResponse({**_head("text_completion", model), "choices": [
        {"index": i, "text": c.text, "logprobs": None, "finish_reason": c.finish_reason, "nines": c.nines}
        for i, c in enumerate(choices)
    ]})


def _chat_response(choices: list[Choice], model: str, stream: bool, chunk: int) -> Response:
    if stream:
        events = chat_events(choices, _head("chat.completion.chunk", model), chunk)
        return StreamingResponse(events, media_type="text/event-stream")
    out = []
    for i, c in enumerate(choices):
        refused = c.nines["rule"] == "fallback_refuse"
        message = {"role": "assistant", "content": c.text, "refusal": REFUSAL_MESSAGE if refused else None}
        out.append({"index": i, "message": message, "logprobs": None, "finish_reason": c.finish_reason,
                    "nines": c.nines})
    return JSONResponse({**_head("chat.completion", model), "choices": out})


async def _handle(state: ProxyState, request: Request, route: str, cls: type,
                  run: Callable[[Any], list[Choice]], respond: Callable[..., Response]) -> Response:
    """Auth, size limit, validation, filtering in a worker thread, and the OpenAI-shaped answer."""
    loop = asyncio.get_running_loop()
    start, status = time.perf_counter(), 200
    state.metrics.in_flight += 1
    try:
        _check_auth(request, state.config.api_key)
        body = parse_body(await _read_body(request, state.config.max_body_bytes), cls)
        served = await loop.run_in_executor(state.executor, state.served_name)
        check_limits(body, state.config, served)
        choices = await loop.run_in_executor(state.executor, run, body)
        state.metrics.choices_done([c.nines["rule"] for c in choices], sum(c.nines["attempts"] for c in choices))
        return respond(choices, served, body.stream, state.config.stream_chunk_chars)
    except ProxyHTTPError as e:
        status = e.status
        return _error(e)
    except UpstreamError as e:
        status = e.status
        state.metrics.upstream_error(e.status)
        kind = "invalid_request_error" if e.status < 500 else "upstream_error"
        return _error(ProxyHTTPError(e.status, e.message, kind))
    except Exception as e:  # a bug or a failing classifier: still an OpenAI-shaped answer
        status = 500
        return _error(ProxyHTTPError(500, f"the proxy failed: {type(e).__name__}: {e}", "server_error"))
    finally:
        state.metrics.in_flight -= 1
        state.metrics.request_done(route, status, time.perf_counter() - start)


def create_proxy_app(classifier: Classifier, filter_config: FilterConfig, config: ProxyConfig,
                     generator: Generator | None = None) -> FastAPI:
    """Build the proxy.

    Args:
        classifier: judges every sampled completion (shared by all requests through a batcher).
        filter_config: the rejection-sampling settings (a saved ``filter.yaml``).
        config: serving settings; ``config.upstream`` is used unless ``generator`` is given.
        generator: a local generator to sample from instead of an upstream server.

    Returns:
        The FastAPI app (serve it with uvicorn; the upstream client starts with the app).

    Raises:
        ValueError: when neither an upstream URL nor a generator is given.
    """
    if generator is None and config.upstream is None:
        raise ValueError("give an upstream URL (--upstream) or a local generator (--generator)")
    state = ProxyState(config, filter_config, ScoreBatcher(classifier, config.score_batch),
                       ThreadPoolExecutor(config.max_concurrent_requests, thread_name_prefix="nines-proxy"))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        http = None
        if generator is not None:
            state.upstream = LocalUpstream(generator)
        else:
            http = HTTPUpstream(config, asyncio.get_running_loop())
            state.upstream = http
        yield
        if http is not None:
            await http.aclose()
        state.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="nines filtering proxy", version="1", lifespan=lifespan)
    app.state.proxy = state
    _routes(app, state)
    return app


def _routes(app: FastAPI, state: ProxyState) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(ProxyHTTPError(exc.status_code, str(exc.detail)))

    def run_completions(body: CompletionsBody) -> list[Choice]:
        assert state.upstream is not None
        return filter_prompts(state.upstream, state.scorer, state.filter, body.prompts(), body.n,
                              body.params(), body.seed)

    def run_chat(body: ChatBody) -> list[Choice]:
        assert state.upstream is not None
        try:
            return filter_chat(state.upstream, state.scorer, state.filter, body.messages, body.n, body.params(),
                               body.seed, state.config.chat_prompt)
        except ValueError as e:  # a malformed conversation (render_messages)
            raise ProxyHTTPError(400, str(e), param="messages") from None

    @app.post("/v1/completions", response_model=None)
    async def completions(request: Request) -> Response:
        return await _handle(state, request, "completions", CompletionsBody, run_completions,
                             _completions_response)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Response:
        return await _handle(state, request, "chat", ChatBody, run_chat, _chat_response)

    @app.get("/v1/models", response_model=None)
    async def models(request: Request) -> Response:
        try:
            _check_auth(request, state.config.api_key)
            name = await asyncio.get_running_loop().run_in_executor(state.executor, state.served_name)
        except ProxyHTTPError as e:
            return _error(e)
        except UpstreamError as e:
            return _error(ProxyHTTPError(e.status, e.message, "upstream_error"))
        return JSONResponse({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "nines"}]})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        up = state.config.upstream or getattr(getattr(state.upstream, "generator", None), "name", "local")
        base = state.filter.threshold if state.filter.threshold is not None else state.scorer.threshold
        return {"status": "ok", "upstream": up, "base_threshold": base,
                "strategy": state.filter.strategy, "max_attempts": state.filter.max_attempts,
                "fallback": state.filter.fallback}

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        s = state.scorer.stats
        text = state.metrics.render(s.calls, s.pairs, s.merged_calls, s.seconds)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
