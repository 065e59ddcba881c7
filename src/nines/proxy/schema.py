"""Request bodies of the proxy's two endpoints, and the checks that turn bad requests into clear 4xx.

Unknown fields are ignored, as OpenAI-compatible servers do (clients send ``user``,
``frequency_penalty`` and the like); fields the proxy cannot honour are refused with a message
rather than silently dropped: ``logprobs``/``echo``/``best_of``/``suffix``, and token-id prompts.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nines.generate.base import Prompt, PromptLike
from nines.proxy.config import ProxyConfig
from nines.proxy.upstream import SamplingParams


class ProxyHTTPError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.status}}


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    n: int = Field(1, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False

    def params(self) -> SamplingParams:
        """The sampling options passed upstream."""
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return SamplingParams(self.max_tokens, self.temperature, self.top_p, stop)


class CompletionsBody(_Common):
    """``POST /v1/completions``."""

    prompt: str | list[str]
    logprobs: int | None = None
    echo: bool = False
    best_of: int | None = None
    suffix: str | None = None
    #: nines extension: one id per prompt, so a backend such as StoryWorld gets its own Prompts back.
    prompt_ids: list[str] | None = None

    def prompts(self) -> list[PromptLike]:
        """The prompts as a list (``Prompt(id, text)`` objects when ``prompt_ids`` is given)."""
        texts = [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)
        if self.prompt_ids is None:
            return list(texts)
        return [Prompt(i, t) for i, t in zip(self.prompt_ids, texts)]


class ChatBody(_Common):
    """``POST /v1/chat/completions``."""

    messages: list[dict[str, Any]]
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return "invalid request: " + "; ".join(parts)


def parse_body(raw: bytes, cls: type[BaseModel]) -> Any:
    """Decode and validate a JSON body.

    Raises:
        ProxyHTTPError: 400 on malformed JSON or a field of the wrong type or range.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProxyHTTPError(400, f"the request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ProxyHTTPError(400, "the request body must be a JSON object")
    if cls is CompletionsBody and isinstance(data.get("prompt"), list) and data["prompt"] and not all(
        isinstance(p, str) for p in data["prompt"]
    ):
        raise ProxyHTTPError(400, "prompt must be a string or a list of strings (token-id prompts are not "
                                  "supported: the classifier reads text)", param="prompt")
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ProxyHTTPError(400, _validation_message(e)) from None


def check_limits(body: _Common, cfg: ProxyConfig, served: str) -> None:
    """Refuse what this proxy does not allow or cannot honour.

    Raises:
        ProxyHTTPError: 400 (limits, unsupported options) or 404 (unknown model).
    """
    if body.model is not None and body.model != served:
        raise ProxyHTTPError(404, f"The model {body.model!r} does not exist; this proxy serves {served!r}",
                             "not_found_error", "model")
    if body.n > cfg.max_n:
        raise ProxyHTTPError(400, f"n={body.n} exceeds this proxy's limit of {cfg.max_n}", param="n")
    if isinstance(body, ChatBody) and body.max_completion_tokens is not None:
        body.max_tokens = body.max_completion_tokens
    if body.max_tokens is not None and body.max_tokens > cfg.max_tokens:
        raise ProxyHTTPError(400, f"max_tokens={body.max_tokens} exceeds this proxy's limit of {cfg.max_tokens}",
                             param="max_tokens")
    if isinstance(body, CompletionsBody):
        _check_completions(body, cfg)
    elif isinstance(body, ChatBody):
        if not body.messages:
            raise ProxyHTTPError(400, "messages must be a non-empty list", param="messages")
        if body.logprobs:
            raise ProxyHTTPError(400, "logprobs are not supported by the filtering proxy", param="logprobs")


def _check_completions(body: CompletionsBody, cfg: ProxyConfig) -> None:
    n_texts = 1 if isinstance(body.prompt, str) else len(body.prompt)
    if body.prompt_ids is not None and (len(body.prompt_ids) != n_texts or not all(body.prompt_ids)):
        raise ProxyHTTPError(400, f"prompt_ids must hold one non-empty id per prompt ({n_texts}), "
                                  f"got {len(body.prompt_ids)}", param="prompt_ids")
    prompts = body.prompts()
    if not prompts:
        raise ProxyHTTPError(400, "prompt must be a string or a non-empty list of strings", param="prompt")
    if len(prompts) > cfg.max_prompts:
        raise ProxyHTTPError(400, f"{len(prompts)} prompts exceed this proxy's limit of {cfg.max_prompts} "
                                  "per request; split the request", param="prompt")
    for name, bad in (("logprobs", body.logprobs is not None), ("echo", body.echo),
                      ("best_of", body.best_of not in (None, 1)), ("suffix", body.suffix is not None)):
        if bad:
            raise ProxyHTTPError(400, f"{name} is not supported by the filtering proxy (the filter picks "
                                      "among samples itself)", param=name)
