"""The app's handle on the store's database: migrated engine, read and write transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from nines.data.store import Store


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC (SQLite hands back naive datetimes that were stored as UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def later(**delta: float) -> datetime:
    """``now()`` plus a ``timedelta(**delta)``."""
    return now() + timedelta(**delta)


class Database:
    """The store's engine, migrated to the newest schema, with transaction helpers.

    SQLite allows one writer at a time and fails a deferred transaction that read before
    another writer committed, so for SQLite every write transaction holds a process-wide lock:
    writers queue instead of failing. PostgreSQL writers run concurrently.

    Args:
        url: a SQLite path or URL, or a PostgreSQL URL (see :class:`nines.data.store.Store`).
    """

    def __init__(self, url: str) -> None:
        self.store = Store(url)  # opening migrates to head, the app tables included
        self.engine: Engine = self.store.engine
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()

    def close(self) -> None:
        """Release every connection."""
        self.store.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (no transaction is committed)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on any exception.

        The store's tables are written through :attr:`store` with ``conn=`` this connection, so
        the app's own rows and the store's commit together (a unit of work).
        """
        if self.is_sqlite:
            with self._write_lock, self.engine.begin() as conn:
                yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the SQLite write lock around code that writes through the store's own methods."""
        if self.is_sqlite:
            with self._write_lock:
                yield
        else:
            yield

    def serialize(self, conn: Connection, key: int) -> None:
        """Serialize this transaction with others passing the same ``key`` (PostgreSQL only).

        Handing out queue items reads then writes; two labellers doing it at once could be
        handed the same item. SQLite is already serialised by the write lock.
        """
        if not self.is_sqlite:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
