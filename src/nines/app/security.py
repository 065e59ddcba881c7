"""Password hashing (Argon2id), random tokens and their at-rest hashes, the login rate limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection

from nines.app import schema as t
from nines.app.db import now, utc

#: Prefix of API tokens, so a leaked one is recognisable in logs and secret scanners.
TOKEN_PREFIX = "nines_"
MIN_PASSWORD = 8


class Passwords:
    """Argon2id password hashing.

    Args:
        time_cost: passes over memory (the library default is 3).
        memory_kib: memory per hash in KiB (the library default is 64 MiB).
    """

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Verifying against this when the user does not exist takes as long as a real check,
        # so response time does not tell an attacker which usernames exist.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        """The encoded Argon2id hash of ``password`` (salt and parameters included)."""
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """Whether ``password`` matches ``encoded``; ``None`` burns the same time and says no."""
        try:
            return self._hasher.verify(encoded if encoded is not None else self._dummy, password) and (
                encoded is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_password(password: str) -> str | None:
    """Why ``password`` is not acceptable, or ``None`` when it is."""
    if len(password) < MIN_PASSWORD:
        return f"the password must be at least {MIN_PASSWORD} characters long"
    if len(password) > 1024:
        return "the password must be at most 1024 characters long"
    return None


def new_token(prefix: str = "") -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: what the database keeps, so a database leak leaks no live token.

    Tokens are 256-bit random, so a fast hash is enough; a KDF is only needed for passwords.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time string equality; ``None`` never matches."""
    if a is None or b is None:
        return False
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def login_key(username: str) -> str:
    """The name failed logins are counted under: case-insensitive, like the login itself."""
    return username.strip().lower()[:64]


def _advisory_key(text: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Attempt:
    """The outcome of :meth:`LoginLimiter.reserve`.

    Attributes:
        retry_after: seconds until another attempt is allowed; 0 when this one may go ahead.
        reason: what is locked (``"account and address"``, ``"account"`` or ``"address"``); empty if nothing.
    """

    retry_after: int
    reason: str = ""


@dataclass(frozen=True)
class Lockout:
    """A (username, address) whose logins are refused now, for the admin's list."""

    username: str
    ip: str
    failures: int
    retry_after: int
    reason: str


class LoginLimiter:
    """Counts failed logins in the database and refuses further attempts past three limits.

    A failure counts against its (account, address) pair, its account (from any address) and its
    address (for any account). The pair limit is the tight one, so one client cannot lock out
    another; the looser account limit stops guessing one password from many addresses, and the
    address limit stops one address trying many accounts. Keeping the count in the database
    means it survives a restart and is shared by every server process using the same store.

    Each attempt is checked and recorded in one transaction *before* the password is checked,
    as a failure that a success then removes: parallel attempts cannot all pass the check
    first. The transaction is serialised per account and per address: on PostgreSQL by
    advisory locks, on SQLite by the write lock its first statement (the insert) takes.
    An attempt in flight therefore counts as a failure until it succeeds, so more simultaneous
    logins from one address than ``ip_max_failures`` would see a 429 (hence its high default).

    Args:
        max_failures: failures per (account, address) inside ``window_s`` before attempts are refused.
        window_s: the sliding window in seconds.
        account_max_failures: failures per account, from all addresses together.
        ip_max_failures: failures per address, for all accounts together.
    """

    def __init__(self, max_failures: int, window_s: float, account_max_failures: int = 20,
                 ip_max_failures: int = 100) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.account_max_failures = account_max_failures
        self.ip_max_failures = ip_max_failures

    def _limits(self, username: str, ip: str) -> list[tuple[str, int, list[Any]]]:
        f = t.login_failures
        return [("account and address", self.max_failures, [f.c.username == username, f.c.ip == ip]),
                ("account", self.account_max_failures, [f.c.username == username]),
                ("address", self.ip_max_failures, [f.c.ip == ip])]

    def _wait(self, conn: Connection, where: list[Any], limit: int, exclude: int | None) -> int:
        """Seconds until the failures matching ``where`` drop below ``limit`` (0 if they are below)."""
        f = t.login_failures
        query = sa.select(f.c.at).where(*where, f.c.at > now() - timedelta(seconds=self.window_s))
        if exclude is not None:
            query = query.where(f.c.id != exclude)
        rows = conn.execute(query.order_by(f.c.at.desc()).limit(limit)).scalars().all()
        if len(rows) < limit:
            return 0
        oldest = utc(rows[-1])  # the limit-th most recent failure: when it expires, one more is allowed
        return max(1, int((oldest + timedelta(seconds=self.window_s) - now()).total_seconds()) + 1)

    def check(self, conn: Connection, username: str, ip: str, exclude: int | None = None) -> Attempt:
        """Whether an attempt for ``username`` from ``ip`` would be refused now (nothing is recorded)."""
        for reason, limit, where in self._limits(username, ip):
            wait = self._wait(conn, where, limit, exclude)
            if wait:
                return Attempt(wait, reason)
        return Attempt(0)

    def reserve(self, conn: Connection, username: str, ip: str) -> Attempt:
        """Check the limits and, if the attempt may go ahead, record it as a failure; atomically.

        Call it in a write transaction of its own, before checking the password; on success call
        :meth:`succeeded`. A refused attempt is not recorded, so it does not extend the lock.
        """
        if conn.dialect.name == "postgresql":
            for key in sorted({_advisory_key(f"login-user:{username}"), _advisory_key(f"login-ip:{ip}")}):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        f = t.login_failures
        # The insert comes first so that SQLite takes its write lock before anything is counted.
        attempt_id = conn.execute(f.insert().values(username=username, ip=ip, at=now()).returning(f.c.id)).scalar_one()
        verdict = self.check(conn, username, ip, exclude=int(attempt_id))
        if verdict.retry_after:
            conn.execute(f.delete().where(f.c.id == attempt_id))
        # Drop failures older than the window, so the table stays small.
        conn.execute(f.delete().where(f.c.at < now() - timedelta(seconds=self.window_s)))
        return verdict

    def succeeded(self, conn: Connection, username: str, ip: str) -> None:
        """Forget the failures of this (username, IP), the reserved attempt included."""
        f = t.login_failures
        conn.execute(f.delete().where(f.c.username == username, f.c.ip == ip))

    def clear(self, conn: Connection, username: str | None = None, ip: str | None = None) -> int:
        """Lift a lock: forget the failures of an account, an address, or both; returns how many."""
        f = t.login_failures
        where = ([f.c.username == login_key(username)] if username is not None else []) + (
            [f.c.ip == ip] if ip is not None else [])
        return int(conn.execute(f.delete().where(*where)).rowcount) if where else 0

    def lockouts(self, conn: Connection) -> list[Lockout]:
        """Every (username, address) with failures in the window whose next attempt would be refused."""
        f = t.login_failures
        since = now() - timedelta(seconds=self.window_s)
        groups = conn.execute(sa.select(f.c.username, f.c.ip, sa.func.count().label("n")).where(f.c.at > since)
                              .group_by(f.c.username, f.c.ip).order_by(f.c.username, f.c.ip)).all()
        out = []
        for g in groups:
            verdict = self.check(conn, g.username, g.ip)
            if verdict.retry_after:
                out.append(Lockout(g.username, g.ip, int(g.n), verdict.retry_after, verdict.reason))
        return out
