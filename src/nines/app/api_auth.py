"""``/api/auth`` and ``/api/tokens``: log in and out, accept an invite, manage API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from nines.app import accounts
from nines.app.auth import CSRF_HEADER, LOGIN_CSRF_COOKIE, SESSION_COOKIE, AnyUser, client_ip, ctx
from nines.app.errors import Conflict, Forbidden, TooMany, Unauthorized
from nines.app.models import InviteAcceptBody, LoginBody, PathId, TokenBody
from nines.app.security import login_key, new_token, same

router = APIRouter(tags=["auth"])


def login_csrf_token(request: Request) -> str:
    """The browser's pre-login CSRF token, or a new one (set it with :func:`set_login_csrf`)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()


def set_login_csrf(request: Request, response: Response, token: str) -> str:
    """Give the browser the pre-login CSRF cookie (double-submit) and return its value."""
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=ctx(request).settings.cookie_secure, path="/")
    return token


def _check_login_csrf(request: Request) -> None:
    # Without this, another site could log a victim's browser into the attacker's account.
    if not same(request.cookies.get(LOGIN_CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
        raise Forbidden("missing or wrong CSRF token: load the login page first, then send its token in "
                        "X-CSRF-Token (scripts should use an API token instead of logging in)")


def _start(request: Request, response: Response, user_id: int) -> str:
    context = ctx(request)
    with context.db.write() as conn:
        token, csrf = accounts.start_session(conn, user_id, context.settings.session_hours)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=context.settings.cookie_secure, path="/",
                        max_age=int(context.settings.session_hours * 3600))
    return csrf


@router.get("/api/auth/csrf")
def login_csrf(request: Request, response: Response) -> dict[str, str]:
    """A pre-login CSRF token (also set as a cookie) for the login and invite forms."""
    return {"csrf_token": set_login_csrf(request, response, login_csrf_token(request))}


@router.post("/api/auth/login", responses={401: {}, 403: {}, 429: {}})
def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    """Check a password and start a session (HttpOnly, SameSite=Strict cookie).

    Failed attempts are counted per (account, address), per account and per address (see
    :class:`~nines.app.security.LoginLimiter`); past a limit the answer is 429 with Retry-After,
    even for the right password, until the window passes or an admin lifts the lock.
    """
    _check_login_csrf(request)
    context, ip, key = ctx(request), client_ip(request), login_key(body.username)
    # Check and record the attempt (as a failure, until it succeeds) before the password is
    # checked, in one transaction: parallel attempts cannot all slip under the limit.
    with context.db.write() as conn:
        attempt = context.limiter.reserve(conn, key, ip)
    if attempt.retry_after:
        wait = attempt.retry_after
        raise TooMany(f"too many failed logins for this {attempt.reason}; try again in {wait} s, "
                      "or ask an admin to lift the lock", headers={"Retry-After": str(wait)})
    with context.db.read() as conn:
        row = accounts.find_login(conn, body.username)
    # The slow hash runs outside any transaction, so it does not hold the SQLite write lock.
    ok = context.passwords.verify(row.password_hash if row is not None else None, body.password)
    if not ok or row is None:
        raise Unauthorized("wrong username or password")
    with context.db.write() as conn:
        context.limiter.succeeded(conn, key, ip)
    csrf = _start(request, response, row.id)
    return {"user": {"id": row.id, "username": row.username, "roles": row.roles.split(",")}, "csrf_token": csrf}


@router.post("/api/auth/logout")
def logout(request: Request, response: Response, user: AnyUser) -> dict[str, bool]:
    """End this session (needs the CSRF token, like every cookie-authenticated write)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with ctx(request).db.write() as conn:
            accounts.end_session(conn, cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"logged_out": True}


@router.post("/api/auth/invite", status_code=201, responses={403: {}, 404: {}, 409: {}, 422: {}})
def accept_invite(body: InviteAcceptBody, request: Request, response: Response) -> dict[str, Any]:
    """Create the invited account and log it in.

    A username that is taken (or looks like one that is) counts against the invite: after
    ``invite_max_clashes`` of them it is used up, so a link cannot probe usernames without limit.
    """
    _check_login_csrf(request)
    context = ctx(request)
    try:
        with context.db.write() as conn:
            user = accounts.accept_invite(conn, context.passwords, body.token, body.username, body.password)
    except Conflict as clash:
        with context.db.write() as conn:
            left = accounts.invite_clash(conn, body.token, context.settings.invite_max_clashes)
        more = (f"{left} {'try' if left == 1 else 'tries'} left with this invite" if left else
                "this invite is now used up: ask an admin for a new one")
        raise Conflict(f"{clash.message}; {more}") from None
    csrf = _start(request, response, user.id)
    return {"user": user.public(), "csrf_token": csrf}


@router.get("/api/me")
def me(user: AnyUser) -> dict[str, Any]:
    """Who is logged in, and the session's CSRF token (``null`` for API-token clients)."""
    return {**user.public(), "csrf_token": user.csrf_token}


@router.post("/api/tokens", status_code=201)
def create_token(body: TokenBody, request: Request, user: AnyUser) -> dict[str, Any]:
    """A new API token for scripts: send it as ``Authorization: Bearer <token>``. Shown only once."""
    with ctx(request).db.write() as conn:
        token_id, token = accounts.create_token(conn, user.id, body.name)
    return {"id": token_id, "name": body.name, "token": token}


@router.get("/api/tokens")
def list_tokens(request: Request, user: AnyUser) -> list[dict[str, Any]]:
    """Your API tokens (names and dates only)."""
    with ctx(request).db.read() as conn:
        return accounts.list_tokens(conn, user.id)


@router.delete("/api/tokens/{token_id}", responses={404: {}})
def revoke_token(request: Request, token_id: PathId,
                 user: AnyUser) -> dict[str, bool]:
    """Revoke one of your tokens."""
    with ctx(request).db.write() as conn:
        accounts.revoke_token(conn, user.id, token_id)
    return {"revoked": True}
