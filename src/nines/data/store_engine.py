"""Engines and migrations for the store: SQLite or PostgreSQL URLs, and Alembic run in-process.

:func:`make_engine` turns a path or URL into an engine with real transactions (SQLite too);
:func:`upgrade` migrates a database to the packaged migrations' head in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

__all__ = ["POSTGRES_HINT", "StoreError", "alembic_config", "current_revision", "make_engine", "to_url", "upgrade"]

POSTGRES_HINT = "pip install 'nines[postgres]'"


class StoreError(RuntimeError):
    """The database cannot be opened or used (missing driver, schema from a newer nines, ...)."""


def to_url(url: str | os.PathLike[str]) -> URL:
    """A SQLAlchemy URL from a file path or URL string; ``postgresql://`` means psycopg 3."""
    text = os.fspath(url)
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser()))
    parsed = make_url(text)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or (url.database or "").startswith("file::memory:")


def _sqlite_engine(url: URL) -> Engine:
    memory = _is_memory(url)
    if not memory and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 30}}
    if memory:
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves so DDL is transactional too
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def make_engine(url: str | os.PathLike[str]) -> Engine:
    """Create an engine for a store location.

    Args:
        url: a SQLite file path, a ``sqlite:///`` URL, or a ``postgresql://`` /
            ``postgresql+psycopg://`` URL.

    Returns:
        The engine. For SQLite, WAL journalling and foreign keys are on and transactions
        (including DDL) are real.

    Raises:
        StoreError: the PostgreSQL driver is not installed.
    """
    parsed = to_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ImportError as exc:
        raise StoreError(
            f"cannot use {parsed.render_as_string(hide_password=True)}: the driver is not installed "
            f"({exc}); run: {POSTGRES_HINT}"
        ) from exc


@contextmanager
def _migrations_dir() -> Iterator[Path]:
    folder = resources.files("nines.data").joinpath("migrations")
    if isinstance(folder, Path):
        yield folder
        return
    with resources.as_file(folder) as path:  # zipped installs (Python >= 3.12)
        yield Path(path)


@contextmanager
def alembic_config(connection: Connection | None = None) -> Iterator[Config]:
    """An Alembic :class:`Config` for the packaged migrations (no ``alembic.ini`` needed).

    Args:
        connection: the connection ``env.py`` should migrate, stored in ``config.attributes``.

    Yields:
        The config, valid while the context is open.
    """
    with _migrations_dir() as folder:
        cfg = Config()
        cfg.set_main_option("script_location", str(folder).replace("%", "%%"))
        if connection is not None:
            cfg.attributes["connection"] = connection
        yield cfg


def current_revision(conn: Connection) -> str | None:
    """The Alembic revision the database behind ``conn`` is at (``None`` when never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def _check_known(script: ScriptDirectory, current: str | None) -> None:
    if current is None:
        return
    try:
        script.get_revision(current)
    except CommandError:
        raise StoreError(
            f"the database schema is at revision {current!r}, which this version of nines does not know "
            f"(newest known: {script.get_current_head()}); upgrade nines to open it"
        ) from None


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate a database to ``revision`` in one transaction; a no-op when already there.

    Args:
        engine: from :func:`make_engine`.
        revision: an Alembic revision id (``"0001"``) or ``"head"``.

    Returns:
        The revision the database is at afterwards.

    Raises:
        StoreError: the database is at a revision this code does not know.
    """
    with engine.begin() as conn, alembic_config(conn) as cfg:
        script = ScriptDirectory.from_config(cfg)
        current = current_revision(conn)
        _check_known(script, current)
        target = script.get_current_head() if revision == "head" else revision
        if current != target:
            command.upgrade(cfg, revision)
        return current_revision(conn)
