"""A small OpenAI-compatible server around any nines ``Generator``.

``create_app(generator, model_name)`` returns a FastAPI app with

* ``POST /v1/completions``: ``prompt`` (string or list), ``n``, ``max_tokens``, ``temperature``,
  ``top_p``, ``stop``, ``seed``, ``logprobs``, and the nines extension ``prompt_ids`` (one id per
  prompt: the generator then gets ``Prompt(id, text)`` objects). Choices are ordered
  ``prompt_idx * n + j``.
* ``POST /v1/chat/completions``: ``messages``, ``n``, ``max_tokens``, ``temperature``, ``top_p``,
  ``stop``, ``seed``. The generator is a plain (base) LM, so the conversation is rendered as one
  prompt: the user and assistant messages' contents joined by newlines (system messages left
  out; :func:`nines.generate.chat.render_messages` with ``"joined"``), and the reply is its
  continuation.
* ``GET /v1/models``: the one served model. ``GET /health``: ``{"status": "ok"}``.

Sampling options reach the generator only if it has ``with_options(**overrides)`` (as
:class:`~nines.generate.hf.HFGenerator` does: ``max_tokens`` -> ``max_new_tokens``,
``temperature``, ``top_p``, ``stop``); other generators ignore them, except ``stop``, which is
then applied to the returned text (the log-probability of a choice cut that way is unknown and
returned as ``null``).

A request without ``seed`` gets a fresh random one, so repeated calls sample afresh even from a
generator that is deterministic when given no seed.

Token log-probabilities: when the completion's ``meta`` has ``tokens`` and ``token_logprobs``
(HFGenerator), they are returned as is. When the generator only gives a total ``logprob``, the
answer has ONE pseudo-token, the whole text, whose log-probability is the total; clients that
sum ``token_logprobs`` (like :class:`~nines.generate.openai_compat.OpenAICompletionsGenerator`)
get the right total either way. Calls into the generator are serialised with a lock so seeded
sampling stays reproducible.

Run it with ``nines serve-model --generator SPEC --port 8000``, or with ``uvicorn``
(``uvicorn.run(create_app(gen, "name"), port=8000)``).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from nines.generate.base import Completion, Generator, Prompt, PromptLike
from nines.generate.chat import render_messages

MAX_CHOICES = 4096  # prompts x n per request


class _Sampling(BaseModel):
    """The sampling fields both endpoints accept (unknown fields are ignored, as OpenAI clients send many)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    n: int = Field(1, ge=1, le=256)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=10.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None


class CompletionRequest(_Sampling):
    """Body of ``POST /v1/completions`` (unknown fields are ignored, as OpenAI servers do)."""

    prompt: str | list[str] = Field(..., description="one prompt or a non-empty list of prompts")
    logprobs: int | None = Field(None, ge=0, le=5)
    prompt_ids: list[str] | None = Field(
        None, description="nines extension: one id per prompt, so the generator gets Prompt(id, text) objects "
                          "(a backend such as StoryWorld continues only its own Prompts)")


class ChatRequest(_Sampling):
    """Body of ``POST /v1/chat/completions``; the conversation is rendered as one prompt (see the module docstring)."""

    messages: list[dict[str, Any]] = Field(..., min_length=1)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"message": message, "type": kind, "code": status}}
    )


def _options(req: CompletionRequest | ChatRequest) -> dict[str, Any]:
    """Generator overrides requested (``temperature=0`` becomes near-greedy 1e-4)."""
    opts: dict[str, Any] = {}
    if req.max_tokens is not None:
        opts["max_new_tokens"] = req.max_tokens
    if req.temperature is not None:
        opts["temperature"] = max(req.temperature, 1e-4)
    if req.top_p is not None:
        opts["top_p"] = req.top_p
    if req.stop:
        opts["stop"] = tuple([req.stop] if isinstance(req.stop, str) else req.stop)
    return opts


def _apply_stop(c: Completion, stop: tuple[str, ...]) -> Completion:
    cut = min((i for i in (c.text.find(s) for s in stop) if i != -1), default=-1)
    if cut == -1:
        return c
    return Completion(
        text=c.text[:cut], logprob=None, meta={**c.meta, "finish_reason": "stop", "tokens": None}
    )


def _logprobs_field(c: Completion) -> dict[str, Any] | None:
    if c.logprob is None:
        return None
    tokens, lps = c.meta.get("tokens"), c.meta.get("token_logprobs")
    if not (isinstance(tokens, list) and isinstance(lps, list) and len(tokens) == len(lps)):
        tokens, lps = [c.text], [c.logprob]  # one pseudo-token carrying the total
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": None, "text_offset": offsets}


def _count_tokens(generator: Generator, prompts: list[str]) -> int:
    tok = getattr(generator, "tokenizer", None)
    if tok is None:
        return 0
    try:
        return sum(len(ids) for ids in tok(prompts)["input_ids"])
    except Exception:  # usage is best effort
        return 0


def _body(kind: str, prefix: str, model_name: str, choices: list[dict[str, Any]], prompt_tokens: int,
          comps: list[Completion]) -> dict[str, Any]:
    completion_tokens = sum(len(c.meta.get("token_ids") or []) for c in comps)
    return {
        "id": f"{prefix}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model_name,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def create_app(generator: Generator, model_name: str) -> FastAPI:
    """Build the FastAPI app serving ``generator`` as ``model_name``.

    Args:
        generator: any nines generator.
        model_name: the id clients pass as ``model``.

    Returns:
        The app (serve it with uvicorn).
    """
    app = FastAPI(title="nines OpenAI-compatible server", version="1")
    lock = threading.Lock()
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return _error(422, "invalid request: " + "; ".join(parts))

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "nines"}],
        }

    def run(req: CompletionRequest | ChatRequest, prompts: list[PromptLike]) -> list[Completion] | JSONResponse:
        """The generator's completions, flat in ``prompt_idx * n + j`` order, or an error answer."""
        if req.model is not None and req.model != model_name:
            return _error(
                404, f"The model {req.model!r} does not exist; this server serves {model_name!r}", "not_found"
            )
        if len(prompts) * req.n > MAX_CHOICES:
            return _error(
                400, f"len(prompt) * n = {len(prompts) * req.n} exceeds {MAX_CHOICES}; split the request"
            )
        opts = _options(req)
        gen: Any = generator
        has_options = hasattr(generator, "with_options")
        try:
            if has_options and opts:
                gen = generator.with_options(**opts)  # type: ignore[attr-defined]
            # No seed: a fresh one, since a generator may be deterministic without one (HFGenerator
            # restores the torch RNG after each call), which would answer every call identically.
            seed = req.seed if req.seed is not None else secrets.randbits(63)
            with lock:
                groups = gen.generate(prompts, n=req.n, seed=seed)
        except (ValueError, TypeError) as e:
            return _error(400, str(e))
        except Exception as e:  # the generator failed, not the request
            return _error(500, f"generator {getattr(generator, 'name', '?')} failed: {e!r}", "server_error")
        flat = [c for group in groups for c in group]
        return flat if has_options or "stop" not in opts else [_apply_stop(c, opts["stop"]) for c in flat]

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name}

    @app.post("/v1/completions", response_model=None)
    def completions(req: CompletionRequest) -> dict[str, Any] | JSONResponse:
        texts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
        if not texts:
            return _error(400, "prompt must be a string or a non-empty list of strings")
        prompts: list[PromptLike] = list(texts)
        if req.prompt_ids is not None:
            if len(req.prompt_ids) != len(texts) or not all(req.prompt_ids):
                return _error(400, f"prompt_ids must hold one non-empty id per prompt ({len(texts)}), "
                                   f"got {len(req.prompt_ids)}")
            prompts = [Prompt(i, t) for i, t in zip(req.prompt_ids, texts)]
        out = run(req, prompts)
        if isinstance(out, JSONResponse):
            return out
        choices = [
            {
                "index": k,
                "text": c.text,
                "logprobs": _logprobs_field(c) if req.logprobs is not None else None,
                "finish_reason": c.meta.get("finish_reason") or "stop",
            }
            for k, c in enumerate(out)
        ]
        return _body("text_completion", "cmpl", model_name, choices, _count_tokens(generator, texts), out)

    @app.post("/v1/chat/completions", response_model=None)
    def chat(req: ChatRequest) -> dict[str, Any] | JSONResponse:
        try:
            prompt = render_messages(req.messages, "joined")
        except ValueError as e:
            return _error(400, str(e))
        out = run(req, [prompt])
        if isinstance(out, JSONResponse):
            return out
        choices = [
            {
                "index": k,
                "message": {"role": "assistant", "content": c.text},
                "logprobs": None,
                "finish_reason": c.meta.get("finish_reason") or "stop",
            }
            for k, c in enumerate(out)
        ]
        return _body("chat.completion", "chatcmpl", model_name, choices, _count_tokens(generator, [prompt]), out)

    return app
