"""Who is asking: the app context, the session cookie or API token, CSRF checks, role guards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from nines.app import accounts
from nines.app.accounts import User
from nines.app.db import Database
from nines.app.errors import Forbidden, Unauthorized
from nines.app.security import LoginLimiter, Passwords, same
from nines.app.settings import AppSettings

if TYPE_CHECKING:
    from nines.app.playground import Playground

SESSION_COOKIE = "nines_session"
LOGIN_CSRF_COOKIE = "nines_login_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class AppContext:
    """What every request handler needs, built once per app.

    Attributes:
        settings: the app configuration.
        db: the migrated database.
        passwords: the password hasher.
        limiter: the login rate limiter.
        playground: the red-team scoring and generation service.
        extra: anything tests or embedders want to hang on the app.
    """

    settings: AppSettings
    db: Database
    passwords: Passwords
    limiter: LoginLimiter
    playground: Playground
    extra: dict[str, Any] = field(default_factory=dict)


def ctx(request: Request) -> AppContext:
    """The :class:`AppContext` of the app serving ``request``."""
    context: AppContext = request.app.state.nines
    return context


def client_ip(request: Request) -> str:
    """The client's address as the server reports it, which the login limits count by.

    That is the socket's peer address, unless ``nines serve --forwarded-allow-ips`` names the
    peer as a trusted proxy: then uvicorn has already replaced it with the client address from
    that proxy's ``X-Forwarded-For`` header. Without the option the header is ignored.
    """
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'",
                           headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


def optional_user(request: Request) -> User | None:
    """The signed-in user, or ``None``.

    An API token (``Authorization: Bearer``) is checked first. A session cookie works for
    safe methods; for anything that changes state it also needs the session's CSRF token in
    ``X-CSRF-Token``, because a browser sends the cookie along with cross-site requests too.

    Raises:
        Unauthorized: a bearer token that is unknown or revoked.
        Forbidden: a cookie-authenticated write without the right CSRF token.
    """
    cached = getattr(request.state, "nines_user", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    context = ctx(request)
    token = _bearer(request)
    user: User | None
    if token is not None:
        user = accounts.token_user(context.db, token)
        if user is None:
            raise Unauthorized("this API token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"})
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        user = None
        if cookie:
            with context.db.read() as conn:
                user = accounts.session_user(conn, cookie)
        if user is not None and request.method not in SAFE_METHODS and not same(
            request.headers.get(CSRF_HEADER), user.csrf_token
        ):
            raise Forbidden("missing or wrong CSRF token: send the page's token in the X-CSRF-Token header")
    request.state.nines_user = user
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The signed-in user.

    Raises:
        Unauthorized: nobody is signed in.
    """
    if user is None:
        raise Unauthorized("log in first (or send an API token as 'Authorization: Bearer <token>')")
    return user


def require(role: str) -> Callable[..., User]:
    """A dependency admitting only users who hold ``role`` (admins hold every role)."""

    def guard(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.has(role):
            raise Forbidden(f"this needs the {role} role; you have {', '.join(sorted(user.roles))}")
        return user

    guard.__name__ = f"require_{role}"
    return guard


#: Handler parameter types: ``def f(user: AdminUser)`` admits admins only, and so on.
AnyUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(require("admin"))]
LabellerUser = Annotated[User, Depends(require("labeller"))]
RaterUser = Annotated[User, Depends(require("rater"))]
RedteamerUser = Annotated[User, Depends(require("redteamer"))]
