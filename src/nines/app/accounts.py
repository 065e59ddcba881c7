"""Users, login sessions, API tokens and invite links: the queries behind authentication."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from nines.app import schema as t
from nines.app.db import Database, now, utc
from nines.app.errors import Conflict, NotFound, Unprocessable
from nines.app.security import TOKEN_PREFIX, Passwords, check_password, new_token, token_hash
from nines.app.settings import ROLES

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class User:
    """A signed-in user as the request handlers see them.

    Attributes:
        id: primary key.
        username: login name.
        roles: the roles held (``admin`` implies every other role).
        csrf_token: the session's CSRF token; ``None`` when authenticated by API token.
    """

    id: int
    username: str
    roles: frozenset[str]
    csrf_token: str | None = None

    def has(self, role: str) -> bool:
        """Whether the user may act in ``role``."""
        return "admin" in self.roles or role in self.roles

    def public(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"id": self.id, "username": self.username, "roles": sorted(self.roles)}


def parse_roles(roles: str | list[str]) -> frozenset[str]:
    """Roles from a comma-separated string or list, checked against :data:`ROLES`.

    Raises:
        Unprocessable: an unknown role, or none at all.
    """
    items = roles.split(",") if isinstance(roles, str) else list(roles)
    found = frozenset(r.strip() for r in items if r.strip())
    unknown = sorted(found - set(ROLES))
    if unknown:
        raise Unprocessable(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    if not found:
        raise Unprocessable(f"give at least one role out of {', '.join(ROLES)}")
    return found


def _user(row: Any, csrf: str | None = None) -> User:
    return User(id=row.id, username=row.username, roles=frozenset(row.roles.split(",")), csrf_token=csrf)


def create_user(conn: Connection, pw: Passwords, username: str, password: str, roles: str | list[str]) -> User:
    """Add a user.

    Raises:
        Unprocessable: a bad username, password or role.
        Conflict: the username is taken.
    """
    if not USERNAME_RE.match(username):
        raise Unprocessable("usernames are 1-64 characters: letters, digits and _ . @ - (not first)")
    problem = check_password(password)
    if problem:
        raise Unprocessable(problem)
    role_set = parse_roles(roles)
    if conn.execute(sa.select(t.users.c.id).where(t.users.c.username == username)).first() is not None:
        raise Conflict(f"the username {username!r} is taken")
    new_id = conn.execute(
        t.users.insert().values(username=username, password_hash=pw.hash(password), roles=",".join(sorted(role_set)),
                                active=True, created_at=now()).returning(t.users.c.id)
    ).scalar_one()
    return User(id=int(new_id), username=username, roles=role_set)


def find_login(conn: Connection, username: str) -> Any | None:
    """The active user row for a login name, or ``None``."""
    u = t.users
    return conn.execute(sa.select(u).where(u.c.username == username, u.c.active.is_(True))).first()


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user, without password hashes."""
    u = t.users
    rows = conn.execute(sa.select(u.c.id, u.c.username, u.c.roles, u.c.active, u.c.created_at).order_by(u.c.id))
    return [{"id": r.id, "username": r.username, "roles": r.roles.split(","), "active": r.active,
             "created_at": utc(r.created_at).isoformat()} for r in rows]


def update_user(conn: Connection, pw: Passwords, user_id: int, roles: list[str] | None, active: bool | None,
                password: str | None) -> None:
    """Change a user's roles, active flag or password; deactivating ends their sessions.

    Raises:
        NotFound: no such user.
        Unprocessable: a bad role or password.
    """
    values: dict[str, Any] = {}
    if roles is not None:
        values["roles"] = ",".join(sorted(parse_roles(roles)))
    if active is not None:
        values["active"] = active
    if password is not None:
        problem = check_password(password)
        if problem:
            raise Unprocessable(problem)
        values["password_hash"] = pw.hash(password)
    if conn.execute(sa.select(t.users.c.id).where(t.users.c.id == user_id)).first() is None:
        raise NotFound(f"no user with id {user_id}")
    if values:
        conn.execute(t.users.update().where(t.users.c.id == user_id).values(**values))
    if active is False or password is not None:
        conn.execute(t.sessions.delete().where(t.sessions.c.user_id == user_id))


# --------------------------------------------------------------------------- sessions


def start_session(conn: Connection, user_id: int, hours: float) -> tuple[str, str]:
    """Create a session; returns ``(cookie token, csrf token)``. Only the token's hash is stored."""
    token, csrf = new_token(), new_token()
    conn.execute(t.sessions.insert().values(token_hash=token_hash(token), user_id=user_id, csrf_token=csrf,
                                            created_at=now(), expires_at=now() + timedelta(hours=hours)))
    # Expired sessions are dropped here rather than by a background job.
    conn.execute(t.sessions.delete().where(t.sessions.c.expires_at < now()))
    return token, csrf


def session_user(conn: Connection, token: str) -> User | None:
    """The user a session cookie belongs to, or ``None`` for an unknown or expired session."""
    s, u = t.sessions, t.users
    row = conn.execute(
        sa.select(u.c.id, u.c.username, u.c.roles, s.c.csrf_token, s.c.expires_at)
        .join(u, u.c.id == s.c.user_id)
        .where(s.c.token_hash == token_hash(token), u.c.active.is_(True))
    ).first()
    if row is None or utc(row.expires_at) <= now():
        return None
    return _user(row, csrf=row.csrf_token)


def end_session(conn: Connection, token: str) -> None:
    """Log a session out."""
    conn.execute(t.sessions.delete().where(t.sessions.c.token_hash == token_hash(token)))


# --------------------------------------------------------------------------- API tokens


def create_token(conn: Connection, user_id: int, name: str) -> tuple[int, str]:
    """A new API token for a user; returns ``(id, token)``. The token is shown once, never stored."""
    token = new_token(TOKEN_PREFIX)
    new_id = conn.execute(t.api_tokens.insert().values(
        user_id=user_id, name=name, token_hash=token_hash(token), created_at=now()).returning(t.api_tokens.c.id)
    ).scalar_one()
    return int(new_id), token


def token_user(db: Database, token: str) -> User | None:
    """The user an ``Authorization: Bearer`` token belongs to, or ``None``."""
    a, u = t.api_tokens, t.users
    with db.read() as conn:
        row = conn.execute(
            sa.select(u.c.id, u.c.username, u.c.roles, a.c.id.label("token_id"))
            .join(u, u.c.id == a.c.user_id)
            .where(a.c.token_hash == token_hash(token), a.c.revoked_at.is_(None), u.c.active.is_(True))
        ).first()
    return None if row is None else _user(row)


def list_tokens(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """A user's tokens (names and dates, never the secret)."""
    a = t.api_tokens
    rows = conn.execute(sa.select(a).where(a.c.user_id == user_id).order_by(a.c.id))
    return [{"id": r.id, "name": r.name, "created_at": utc(r.created_at).isoformat(),
             "revoked": r.revoked_at is not None} for r in rows]


def revoke_token(conn: Connection, user_id: int, token_id: int) -> None:
    """Revoke one of the user's own tokens.

    Raises:
        NotFound: the user has no token with this id (someone else's counts as none).
    """
    a = t.api_tokens
    done = conn.execute(a.update().where(a.c.id == token_id, a.c.user_id == user_id).values(revoked_at=now()))
    if done.rowcount == 0:
        raise NotFound(f"you have no API token with id {token_id}")


# --------------------------------------------------------------------------- invites


def create_invite(conn: Connection, created_by: int, roles: list[str], hours: float) -> str:
    """An invite token for the given roles, valid for ``hours``."""
    token = new_token()
    role_set = parse_roles(roles)
    conn.execute(t.invites.insert().values(token_hash=token_hash(token), roles=",".join(sorted(role_set)),
                                           created_by=created_by, created_at=now(),
                                           expires_at=now() + timedelta(hours=hours)))
    return token


def invite_roles(conn: Connection, token: str) -> list[str] | None:
    """The roles an unused, unexpired invite grants, or ``None``."""
    i = t.invites
    row = conn.execute(sa.select(i).where(i.c.token_hash == token_hash(token), i.c.used_at.is_(None))).first()
    if row is None or utc(row.expires_at) <= now():
        return None
    return list(row.roles.split(","))


def accept_invite(conn: Connection, pw: Passwords, token: str, username: str, password: str) -> User:
    """Create the invited account and use the invite up, in the caller's transaction.

    Raises:
        NotFound: the invite is unknown, used or expired.
        Conflict / Unprocessable: see :func:`create_user`.
    """
    roles = invite_roles(conn, token)
    if roles is None:
        raise NotFound("this invite link is unknown, expired or already used; ask an admin for a new one")
    try:
        user = create_user(conn, pw, username, password, roles)
    except IntegrityError:
        raise Conflict(f"the username {username!r} is taken") from None
    i = t.invites
    done = conn.execute(i.update().where(i.c.token_hash == token_hash(token), i.c.used_at.is_(None))
                        .values(used_at=now(), used_by=user.id))
    if done.rowcount != 1:  # someone used it a moment ago: the caller's transaction rolls back
        raise NotFound("this invite link was just used; ask an admin for a new one")
    return user
