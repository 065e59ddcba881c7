"""Errors the app answers with a 4xx and a message, their handlers, and the request-size limit."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AppError(Exception):
    """A request the app refuses, with the status to answer and a message for the user."""

    status = 400

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(AppError):
    """400: the request cannot be understood."""


class Unauthorized(AppError):
    """401: not logged in (or the token is bad)."""

    status = 401


class Forbidden(AppError):
    """403: logged in, but this role may not do that (or the CSRF token is missing)."""

    status = 403


class NotFound(AppError):
    """404: no such thing, or one that belongs to somebody else."""

    status = 404


class Conflict(AppError):
    """409: the request clashes with the current state."""

    status = 409


class Unprocessable(AppError):
    """422: well-formed, but the values are not acceptable."""

    status = 422


class TooMany(AppError):
    """429: slow down."""

    status = 429


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(x) for x in loc) or "request"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "json_invalid":
            msg = "the body is not valid JSON"
        parts.append(f"{_where(err.get('loc', ()))}: {msg}")
    return "; ".join(parts) or "the request is not valid"


def install_handlers(app: FastAPI) -> None:
    """Answer :class:`AppError` and validation failures with JSON ``{"detail": message}``."""

    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> Response:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()[:20]]
        return JSONResponse({"detail": _validation_message(exc), "errors": errors}, status_code=422)


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with 413.

    A declared ``Content-Length`` is checked before anything is read; otherwise the body is
    read (it is at most ``max_bytes``) and counted as it streams, so a chunked body cannot get
    around the limit, and then handed to the app in one piece.

    Args:
        app: the wrapped application.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = int(value) if value.isdigit() else -1
                if declared < 0:
                    await _send_json(send, 400, "the Content-Length header is not a number")
                    return
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await _send_json(send, 413, f"the request body is larger than the limit of {self.max_bytes} bytes")


async def _send_json(send: Send, status: int, detail: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})
