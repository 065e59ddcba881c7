"""A small OpenAI-compatible server around any nines ``Generator``.

``create_app(generator, model_name)`` returns a FastAPI app with

* ``POST /v1/completions``: ``prompt`` (string or list), ``n``, ``max_tokens``, ``temperature``,
  ``top_p``, ``stop``, ``seed``, ``logprobs``. Choices are ordered ``prompt_idx * n + j``.
* ``GET /v1/models``: the one served model.

Sampling options reach the generator only if it has ``with_options(**overrides)`` (as
:class:`~nines.generate.hf.HFGenerator` does: ``max_tokens`` -> ``max_new_tokens``,
``temperature``, ``top_p``, ``stop``); other generators ignore them, except ``stop``, which is
then applied to the returned text (the log-probability of a choice cut that way is unknown and
returned as ``null``).

Token log-probabilities: when the completion's ``meta`` has ``tokens`` and ``token_logprobs``
(HFGenerator), they are returned as is. When the generator only gives a total ``logprob``, the
answer has ONE pseudo-token, the whole text, whose log-probability is the total; clients that
sum ``token_logprobs`` (like :class:`~nines.generate.openai_compat.OpenAICompletionsGenerator`)
get the right total either way. Calls into the generator are serialised with a lock so seeded
sampling stays reproducible.

Run it with ``uvicorn`` (``uvicorn.run(create_app(gen, "name"), port=8000)``).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from nines.generate.base import Completion, Generator

MAX_CHOICES = 4096  # prompts x n per request


class CompletionRequest(BaseModel):
    """Body of ``POST /v1/completions`` (unknown fields are ignored, as OpenAI servers do)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    prompt: str | list[str] = Field(..., description="one prompt or a non-empty list of prompts")
    n: int = Field(1, ge=1, le=256)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=10.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: int | None = Field(None, ge=0, le=5)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"message": message, "type": kind, "code": status}}
    )


def _options(req: CompletionRequest) -> dict[str, Any]:
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

    @app.post("/v1/completions", response_model=None)
    def completions(req: CompletionRequest) -> dict[str, Any] | JSONResponse:
        if req.model is not None and req.model != model_name:
            return _error(
                404, f"The model {req.model!r} does not exist; this server serves {model_name!r}", "not_found"
            )
        prompts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
        if not prompts:
            return _error(400, "prompt must be a string or a non-empty list of strings")
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
            with lock:
                groups = gen.generate(prompts, n=req.n, seed=req.seed)
        except (ValueError, TypeError) as e:
            return _error(400, str(e))
        except Exception as e:  # the generator failed, not the request
            return _error(500, f"generator {getattr(generator, 'name', '?')} failed: {e!r}", "server_error")
        choices = []
        completion_tokens = 0
        for i, group in enumerate(groups):
            for j, comp in enumerate(group):
                c = comp if has_options or "stop" not in opts else _apply_stop(comp, opts["stop"])
                completion_tokens += len(c.meta.get("token_ids") or [])
                choices.append(
                    {
                        "index": i * req.n + j,
                        "text": c.text,
                        "logprobs": _logprobs_field(c) if req.logprobs is not None else None,
                        "finish_reason": c.meta.get("finish_reason") or "stop",
                    }
                )
        prompt_tokens = _count_tokens(generator, prompts)
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    return app
