"""Alembic environment for the nines store.

The store runs migrations programmatically (see :func:`nines.data.store.upgrade`) and hands
this script an open connection in ``config.attributes["connection"]``. Running ``alembic``
from the command line also works: pass ``-x url=sqlite:///path/to/nines.db`` or set
``sqlalchemy.url`` in an ini file.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from nines.data.schema import metadata

config = context.config
# The one table definition (tests/data/test_store_schema.py checks the migrations build exactly it),
# so `alembic revision --autogenerate` diffs a database against it. The app's tables join the same
# MetaData only when nines.app.schema is imported (data sits below app), so tables the database has
# and the MetaData lacks are left alone rather than proposed for dropping.
target_metadata = metadata


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and reflected and compare_to is None)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      include_object=_include)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass -x url=sqlite:///path/to/nines.db")
    return url


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the connection the store passed in, or one made from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
