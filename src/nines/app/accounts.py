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
# Separators dropped and digits read as the letters they resemble when comparing names, so that
# "Admin", "admin.", "ad_min" and "adm1n"-style variants cannot sit beside "admin".
_SKELETON = str.maketrans({".": None, "_": None, "-": None, "0": "o", "1": "l"})
# Serialises account creation on PostgreSQL (the look-alike check reads, then inserts).
_USERS_LOCK = 2_000_000_001
#: Token use is written at most this often per token, so API traffic does not turn into writes.
LAST_USED_EVERY_S = 60.0


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


def skeleton(username: str) -> str:
    """What a username looks like: lower case, without ``. _ -``, with 0 and 1 read as o and l."""
    return username.lower().translate(_SKELETON)


def look_alike(conn: Connection, username: str) -> str | None:
    """An existing username that ``username`` equals or resembles (see :func:`skeleton`), or ``None``."""
    mine = skeleton(username)
    # Every name is compared in Python: accounts number in the hundreds, and SQL cannot say "looks like".
    return next((name for name in conn.execute(sa.select(t.users.c.username)).scalars() if skeleton(name) == mine),
                None)


def create_user(conn: Connection, pw: Passwords, username: str, password: str, roles: str | list[str]) -> User:
    """Add a user; the username is stored in lower case.

    Raises:
        Unprocessable: a bad username, password or role.
        Conflict: the username is taken, or looks like one that is.
    """
    if not USERNAME_RE.match(username):
        raise Unprocessable("usernames are 1-64 characters: letters, digits and _ . @ - (not first)")
    username = username.lower()
    problem = check_password(password)
    if problem:
        raise Unprocessable(problem)
    role_set = parse_roles(roles)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _USERS_LOCK})
    taken = look_alike(conn, username)
    if taken is not None:
        raise Conflict(f"the username {username!r} is taken" if taken.lower() == username else
                       f"the username {username!r} looks too much like the existing {taken!r}; pick another")
    new_id = conn.execute(
        t.users.insert().values(username=username, password_hash=pw.hash(password), roles=",".join(sorted(role_set)),
                                active=True, created_at=now()).returning(t.users.c.id)
    ).scalar_one()
    return User(id=int(new_id), username=username, roles=role_set)


def find_login(conn: Connection, username: str) -> Any | None:
    """The active user row for a login name in any case, or ``None``.

    Names are stored in lower case now; an older store may hold mixed-case names, even two that
    differ only in case, so an exact match wins and a case-insensitive one must be unique.
    """
    u = t.users
    exact = conn.execute(sa.select(u).where(u.c.username == username, u.c.active.is_(True))).first()
    if exact is not None:
        return exact
    rows = conn.execute(sa.select(u).where(sa.func.lower(u.c.username) == username.lower(),
                                           u.c.active.is_(True)).limit(2)).all()
    return rows[0] if len(rows) == 1 else None


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user, without password hashes."""
    u = t.users
    rows = conn.execute(sa.select(u.c.id, u.c.username, u.c.roles, u.c.active, u.c.created_at).order_by(u.c.id))
    return [{"id": r.id, "username": r.username, "roles": r.roles.split(","), "active": r.active,
             "created_at": utc(r.created_at).isoformat()} for r in rows]


def update_user(conn: Connection, pw: Passwords, user_id: int, roles: list[str] | None, active: bool | None,
                password: str | None) -> None:
    """Change a user's roles, active flag or password.

    Deactivating or a new password ends the user's sessions and revokes their API tokens (for
    good: reactivating does not bring them back).

    Raises:
        NotFound: no such user.
        Unprocessable: a bad role or password.
        Conflict: the change would leave no active admin.
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
    u = t.users
    row = conn.execute(sa.select(u.c.roles, u.c.active).where(u.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    if _drops_last_admin(conn, user_id, row, values):
        raise Conflict("this is the last active admin: make another account an admin first")
    if values:
        conn.execute(u.update().where(u.c.id == user_id).values(**values))
    if active is False or password is not None:
        conn.execute(t.sessions.delete().where(t.sessions.c.user_id == user_id))
        a = t.api_tokens
        conn.execute(a.update().where(a.c.user_id == user_id, a.c.revoked_at.is_(None)).values(revoked_at=now()))


def _drops_last_admin(conn: Connection, user_id: int, row: Any, values: dict[str, Any]) -> bool:
    """Whether applying ``values`` to an active admin leaves no other active admin."""
    was_admin = row.active and "admin" in row.roles.split(",")
    stays_admin = values.get("active", row.active) and "admin" in values.get("roles", row.roles).split(",")
    if not was_admin or stays_admin:
        return False
    if conn.dialect.name == "postgresql":  # two admins demoting each other at once must not both succeed
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _USERS_LOCK})
    u = t.users
    others = conn.execute(sa.select(u.c.roles).where(u.c.id != user_id, u.c.active.is_(True))).scalars()
    return not any("admin" in r.split(",") for r in others)


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
            sa.select(u.c.id, u.c.username, u.c.roles, a.c.id.label("token_id"), a.c.last_used_at)
            .join(u, u.c.id == a.c.user_id)
            .where(a.c.token_hash == token_hash(token), a.c.revoked_at.is_(None), u.c.active.is_(True))
        ).first()
    if row is None:
        return None
    stale = now() - timedelta(seconds=LAST_USED_EVERY_S)
    if row.last_used_at is None or utc(row.last_used_at) < stale:
        with db.write() as conn:  # the condition again, so parallel requests write once
            conn.execute(a.update().where(a.c.id == row.token_id, sa.or_(a.c.last_used_at.is_(None),
                                                                           a.c.last_used_at < stale))
                         .values(last_used_at=now()))
    return _user(row)


def list_tokens(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """A user's tokens (names and dates, never the secret)."""
    a = t.api_tokens
    rows = conn.execute(sa.select(a).where(a.c.user_id == user_id).order_by(a.c.id))
    return [{"id": r.id, "name": r.name, "created_at": utc(r.created_at).isoformat(),
             "last_used_at": utc(r.last_used_at).isoformat() if r.last_used_at is not None else None,
             "revoked": r.revoked_at is not None} for r in rows]


def user_exists(conn: Connection, user_id: int) -> None:
    """Raises :class:`NotFound` unless a user with this id exists (active or not)."""
    if conn.execute(sa.select(t.users.c.id).where(t.users.c.id == user_id)).first() is None:
        raise NotFound(f"no user with id {user_id}")


def revoke_token(conn: Connection, user_id: int, token_id: int, whose: str = "you have") -> None:
    """Revoke one of a user's tokens.

    Raises:
        NotFound: the user has no token with this id (someone else's counts as none).
    """
    a = t.api_tokens
    done = conn.execute(a.update().where(a.c.id == token_id, a.c.user_id == user_id).values(revoked_at=now()))
    if done.rowcount == 0:
        raise NotFound(f"{whose} no API token with id {token_id}")


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


def invite_clash(conn: Connection, token: str, max_clashes: int) -> int:
    """Count a try to accept an invite with a taken username; returns how many tries are left.

    At ``max_clashes`` the invite is used up, so a link cannot probe usernames without limit.
    Call it in a transaction of its own (the failed acceptance rolled back).
    """
    i = t.invites
    mine = i.c.token_hash == token_hash(token)
    conn.execute(i.update().where(mine, i.c.used_at.is_(None)).values(clashes=i.c.clashes + 1))
    clashes = conn.execute(sa.select(i.c.clashes).where(mine)).scalar_one_or_none()
    if clashes is None:
        return 0
    if clashes >= max_clashes:
        conn.execute(i.update().where(mine, i.c.used_at.is_(None)).values(used_at=now()))
    return max(0, max_clashes - int(clashes))
