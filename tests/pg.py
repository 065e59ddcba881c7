"""PostgreSQL for the store and app tests: the env var that enables them and a full reset between tests.

Importable from any test module (pytest puts ``tests/`` on ``sys.path`` for the root conftest).
"""

from __future__ import annotations

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
