"""Password hashing (Argon2id), random tokens and their at-rest hashes, the login rate limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

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


class LoginLimiter:
    """Counts failed logins per (username, IP) in the database and refuses after too many.

    Keeping the count in the database means it survives a restart and is shared by every
    server process using the same store.

    Args:
        max_failures: failures allowed inside ``window_s`` before logins are refused.
        window_s: the sliding window in seconds.
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s

    def retry_after(self, conn: Connection, username: str, ip: str) -> int:
        """Seconds until another attempt is allowed; 0 when one is allowed now."""
        since = now() - timedelta(seconds=self.window_s)
        f = t.login_failures
        rows = conn.execute(
            sa.select(f.c.at).where(f.c.username == username, f.c.ip == ip, f.c.at > since).order_by(f.c.at)
        ).scalars().all()
        if len(rows) < self.max_failures:
            return 0
        oldest = utc(rows[len(rows) - self.max_failures])
        return max(1, int((oldest + timedelta(seconds=self.window_s) - now()).total_seconds()) + 1)

    def failed(self, conn: Connection, username: str, ip: str) -> None:
        """Record a failure (and drop failures older than the window, so the table stays small)."""
        f = t.login_failures
        conn.execute(f.delete().where(f.c.at < now() - timedelta(seconds=self.window_s)))
        conn.execute(f.insert().values(username=username, ip=ip, at=now()))

    def succeeded(self, conn: Connection, username: str, ip: str) -> None:
        """Forget the failures of this (username, IP)."""
        f = t.login_failures
        conn.execute(f.delete().where(f.c.username == username, f.c.ip == ip))
