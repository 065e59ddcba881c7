"""HTML pages. Each checks the role it needs; story text is only ever rendered autoescaped.

Pages are thin: most of them load their data through the JSON API from ``static/app.js``,
which puts story text into the page with ``textContent`` only.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path as FsPath
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from nines.app import accounts, dashboard, instructions, redteam
from nines.app.accounts import User
from nines.app.api_auth import login_csrf_token, set_login_csrf
from nines.app.auth import ctx, optional_user
from nines.app.errors import AppError

HOME = {"admin": "/admin", "labeller": "/label", "rater": "/compare", "redteamer": "/playground"}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(FsPath(__file__).parent / "templates")),
    autoescape=True,  # every {{ value }} is HTML-escaped: story text can never become markup
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=_env)
router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``"/"``: no open redirect after login.

    Browsers are lenient: they drop tabs and newlines from URLs and read ``\\`` as ``/``, so
    ``/\\evil.example`` and ``/<tab>/evil.example`` both mean ``//evil.example``, another host.
    Accepted is only a single leading ``/`` followed by something other than ``/`` or ``\\``,
    with no backslash, control or space character anywhere, that parses with no scheme
    and no host.
    """
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return "/"
    # Control, format, space and line/paragraph separator characters: browsers may drop or
    # rewrite them (a real path has them percent-encoded).
    if "\\" in target or any(unicodedata.category(ch)[0] in "CZ" for ch in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _user(request: Request) -> User | None:
    try:
        return optional_user(request)
    except AppError:
        return None  # a bad bearer header on a page request: treat as logged out


def render(request: Request, name: str, user: User | None, status: int = 200, **data: Any) -> HTMLResponse:
    """Render a template with the user, their CSRF token and the navigation."""
    nav = [] if user is None else [(label, href) for role, label, href in (
        ("labeller", "Label", "/label"), ("rater", "Compare", "/compare"), ("redteamer", "Playground", "/playground"),
        ("redteamer", "My finds", "/finds"), ("admin", "Dashboard", "/admin"), ("admin", "Users", "/admin/users"),
        ("admin", "Review", "/admin/review")) if user.has(role)]
    task = ctx(request).settings.task_info()  # the task's label names for buttons, headings and hints
    context = {"title": "nines", "user": user, "csrf": (user.csrf_token or "") if user else "", "nav": nav,
               "page": name, "task": task, "task_names": {c["value"]: c["name"] for c in task["labels"]}, **data}
    return templates.TemplateResponse(request, f"{name}.html", context, status_code=status)


def guard(request: Request, role: str | None) -> User | Response:
    """The user, or the response to send instead: a redirect to log in, or a 403 page."""
    user = _user(request)
    if user is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if role is not None and not user.has(role):
        return render(request, "error", user, status=403, title="Not allowed",
                      message=f"This page needs the {role} role.")
    return user


@router.get("/")
def home(request: Request) -> Response:
    """Send users to their role's page."""
    user = guard(request, None)
    if not isinstance(user, User):
        return user
    first = next((HOME[r] for r in ("admin", "labeller", "rater", "redteamer") if r in user.roles), "/tokens")
    return RedirectResponse(first, status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    """The login form (sets the pre-login CSRF cookie)."""
    target = safe_next(request.query_params.get("next"))
    token = login_csrf_token(request)
    response = render(request, "login", None, title="Log in", next=target, csrf=token)
    set_login_csrf(request, response, token)
    return response


@router.get("/invite/{token}")
def invite_page(request: Request, token: str) -> Response:
    """Accept an invite: choose a username and password."""
    context = ctx(request)
    with context.db.read() as conn:
        roles = accounts.invite_roles(conn, token[:200])
    csrf = login_csrf_token(request)
    response = render(request, "invite", None, title="Invite", roles=roles, token=token[:200], csrf=csrf)
    set_login_csrf(request, response, csrf)
    return response


def _page(role: str | None, name: str, title: str) -> Any:
    def handler(request: Request) -> Response:
        user = guard(request, role)
        return user if not isinstance(user, User) else render(request, name, user, title=title)

    handler.__name__ = f"page_{name}"
    return handler


for _path, _role, _name, _title in (
    ("/label", "labeller", "label", "Label"),
    ("/compare", "rater", "compare", "Compare"),
    ("/playground", "redteamer", "playground", "Red-team playground"),
    ("/tokens", None, "tokens", "API tokens"),
    ("/admin/users", "admin", "admin_users", "Users"),
    ("/admin/review", "admin", "admin_review", "Review finds"),
):
    router.add_api_route(_path, _page(_role, _name, _title), methods=["GET"])


def _instructions(request: Request, role: str | None, template: str, title: str) -> Response:
    """The current instructions, for reading (any user) or editing (admins); same data, two templates."""
    user = guard(request, role)
    if not isinstance(user, User):
        return user
    context = ctx(request)
    with context.db.read() as conn:
        current = instructions.current(conn, context.settings.default_instructions())
    return render(request, template, user, title=title, doc=current)


@router.get("/instructions")
def instructions_page(request: Request) -> Response:
    """The labelling instructions, rendered (raw HTML in the Markdown is shown as text)."""
    return _instructions(request, None, "instructions", "Instructions")


@router.get("/admin/instructions")
def edit_instructions(request: Request) -> Response:
    """Edit the instructions (Markdown)."""
    return _instructions(request, "admin", "admin_instructions", "Edit instructions")


@router.get("/finds")
def finds_page(request: Request) -> Response:
    """A red-teamer's finds and the time each took."""
    user = guard(request, "redteamer")
    if not isinstance(user, User):
        return user
    with ctx(request).db.read() as conn:
        mine = redteam.my_finds(conn, user.id)
    return render(request, "finds", user, title="My finds", mine=mine)


@router.get("/admin")
def admin_page(request: Request) -> Response:
    """The dashboard."""
    user = guard(request, "admin")
    if not isinstance(user, User):
        return user
    context = ctx(request)
    with context.db.read() as conn:
        data = dashboard.overview(conn, context.settings)
    return render(request, "admin", user, title="Dashboard", d=data)
