"""``create_app``: the FastAPI application behind ``nines serve``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nines import __version__
from nines.app import api_admin, api_auth, api_redteam, api_work, pages
from nines.app.auth import AppContext
from nines.app.db import Database
from nines.app.errors import BodyLimit, install_handlers
from nines.app.playground import Playground
from nines.app.security import LoginLimiter, Passwords
from nines.app.settings import AppSettings

# No inline scripts or styles anywhere, so the policy can forbid them: even if some story text
# did end up as markup, a browser would refuse to run it.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
#: Sent when cookies are ``Secure`` (``--cookie-secure``), i.e. the app is served over HTTPS:
#: browsers then refuse plain HTTP to this host for a year, so a cookie cannot leak over it.
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` (and :data:`HSTS` when asked) to every response."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ([HSTS] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.headers if k not in names]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: AppSettings | None = None, classifier: Any = None, generator: Any = None) -> FastAPI:
    """Build the app on a migrated database.

    Args:
        settings: configuration (defaults: SQLite under ``runs/app``, no classifier).
        classifier: an already-loaded classifier for the playground (else ``settings.classifier_dir``).
        generator: an already-built generator for the playground (else ``settings.generator``).

    Returns:
        The ASGI app; ``app.state.nines`` is its :class:`~nines.app.auth.AppContext`.
    """
    settings = settings or AppSettings()
    db = Database(settings.db_url)
    context = AppContext(
        settings=settings, db=db,
        passwords=Passwords(settings.kdf_time_cost, settings.kdf_memory_kib),
        limiter=LoginLimiter(settings.login_max_failures, settings.login_window_s,
                             settings.login_account_max_failures, settings.login_ip_max_failures),
        playground=Playground(settings, classifier=classifier, generator=generator),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.close()

    # No /docs or /redoc: they load Swagger UI from a CDN with inline scripts, which the CSP
    # (and an offline machine) would refuse anyway. The spec itself is at /openapi.json.
    app = FastAPI(title="nines", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Labelling, pairwise comparison and red-teaming for nines.")
    app.state.nines = context
    install_handlers(app)
    for router in (api_auth.router, api_admin.router, api_work.router, api_redteam.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.add_middleware(SecurityHeaders, hsts=settings.cookie_secure)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # outermost: checked before anything
    return app
