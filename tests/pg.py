"""PostgreSQL for the store and app tests: the env var that enables them and a full reset between tests.

Importable from any test module (pytest puts ``tests/`` on ``sys.path`` for the root conftest).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from nines.data.store import make_engine

#: Set to a SQLAlchemy URL (``.ci/run`` does) to run the store and app tests on PostgreSQL as well.
PG_ENV = "NINES_TEST_POSTGRES_URL"


def reset_postgres(url: str) -> None:
    """Drop every table (the store's, the app's, any later migration's) so a test starts from empty."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def fresh_database(backend: str, sqlite_url: str) -> Iterator[str]:
    """The body of a ``params=["sqlite", "postgres"]`` fixture: yields an empty database's URL.

    ``sqlite`` yields ``sqlite_url`` (a file in the test's tmp folder). ``postgres`` skips unless
    ``$NINES_TEST_POSTGRES_URL`` is set, and otherwise empties that database before and after.
    """
    if backend == "sqlite":
        yield sqlite_url
        return
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"set {PG_ENV}=postgresql://user:pass@host/db to run this test on PostgreSQL too")
    reset_postgres(url)
    yield url
    reset_postgres(url)
