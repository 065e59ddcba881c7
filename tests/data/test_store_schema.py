"""One table definition: the migrations at head build exactly the schema :data:`nines.data.schema.metadata` says.

A column, index, unique constraint, foreign key, type, nullability or server default added to
only one of the two (or a check constraint named in only one) fails here, on SQLite and, when
$NINES_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

import nines.app.schema as app_schema
from nines.data.schema import metadata
from nines.data.store import make_engine, upgrade
from pg import PG_ENV, reset_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database upgraded with the migrations to head."""
    if request.param == "sqlite":
        url = str(tmp_path / "schema.db")
    else:
        url = os.environ.get(PG_ENV, "")
        if not url:
            pytest.skip(f"set {PG_ENV}=postgresql://user:pass@host/db to check the schema on PostgreSQL")
        reset_postgres(url)
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        if request.param == "postgres":
            reset_postgres(url)


def _diff(engine: Engine, target: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, target))


def _check_names(engine: Engine, target: sa.MetaData) -> dict[str, tuple[set[str], set[str]]]:
    """Per table, the named check constraints ``(in the database, in the MetaData)`` where they differ.

    Alembic does not compare check constraints, and each dialect renders their SQL its own way,
    so the names are compared.
    """
    inspector = sa.inspect(engine)
    out = {}
    for table in target.sorted_tables:
        found = {c["name"] for c in inspector.get_check_constraints(table.name) if c.get("name")}
        wanted = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint) and isinstance(c.name, str)}
        if found != wanted:
            out[table.name] = (found, wanted)
    return out


def _copy(mutate: Callable[[sa.MetaData], None]) -> sa.MetaData:
    md = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(md)
    mutate(md)
    return md


def test_app_tables_share_the_store_metadata() -> None:
    assert app_schema.meta is metadata
    assert {"snippets", "labels", "datasets", "dataset_snippets", "submissions", "redteam_finds"} <= set(
        metadata.tables
    )


def test_migrations_at_head_match_the_metadata(migrated: Engine) -> None:
    assert _diff(migrated, metadata) == []
    assert _check_names(migrated, metadata) == {}


def test_a_column_in_the_metadata_only_is_caught(migrated: Engine) -> None:
    md = _copy(lambda m: m.tables["snippets"].append_column(sa.Column("extra", sa.Integer)))
    assert [d[0] for d in _diff(migrated, md)] == ["add_column"]


def test_a_column_in_the_migrations_only_is_caught(migrated: Engine) -> None:
    with migrated.begin() as conn:
        conn.execute(sa.text("ALTER TABLE labels ADD COLUMN extra INTEGER"))
    assert [d[0] for d in _diff(migrated, metadata)] == ["remove_column"]


def test_a_changed_type_index_or_constraint_is_caught(migrated: Engine) -> None:
    def widen(m: sa.MetaData) -> None:
        m.tables["snippets"].c.prompt_id.type = sa.String(256)

    def unindex(m: sa.MetaData) -> None:
        table = m.tables["snippets"]
        table.indexes.discard(next(i for i in table.indexes if i.name == "ix_snippets_prompt_id"))

    def uncheck(m: sa.MetaData) -> None:
        table = m.tables["labels"]
        table.constraints.discard(next(c for c in table.constraints if c.name == "ck_labels_label"))

    assert _diff(migrated, _copy(widen)) != []
    assert _diff(migrated, _copy(unindex)) != []
    assert set(_check_names(migrated, _copy(uncheck))) == {"labels"}
