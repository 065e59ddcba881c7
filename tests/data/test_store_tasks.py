"""A dataset remembers its task (migration 0007): NULL in old stores reads as injury; tasks never mix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from nines.data.record import Snippet
from nines.data.store import Store, TaskMismatch, alembic_config, make_engine, upgrade
from pg import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and PostgreSQL when $NINES_TEST_POSTGRES_URL is set."""
    yield from fresh_database(request.param, str(tmp_path / "tasks.db"))


def test_upgrade_to_0007_reads_old_labelled_datasets_as_injury(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:  # an 0006 store with a labelled and an empty dataset, written by hand
            conn.execute(sa.text("INSERT INTO datasets (name, created_at) VALUES ('old', CURRENT_TIMESTAMP), "
                                 "('empty', CURRENT_TIMESTAMP)"))
    finally:
        engine.dispose()
    with Store(store_url) as s:  # opening migrates 0006 -> head
        assert s.schema_version() >= "0007"
        s.add([Snippet("p", "He broke his arm.", label="injurious")], dataset="old")
        assert s.dataset_task("old") is None
        assert s.effective_task("old") == "injury"
        assert s.effective_task("empty") is None  # nothing labelled yet: any task may claim it
        with pytest.raises(TaskMismatch, match="labelled for task 'injury', not 'safetext'"):
            s.bind_dataset_task("old", "safetext")
        assert s.bind_dataset_task("old", "injury") == "injury" and s.dataset_task("old") == "injury"
        assert s.bind_dataset_task("empty", "safetext") == "safetext"
        assert s.dataset_task("empty") == "safetext"


def test_downgrade_from_0007_keeps_the_datasets(store_url: str) -> None:
    with Store(store_url) as s:
        s.bind_dataset_task("d", "safetext")
        s.add([Snippet("p", "c", label="safe")], dataset="d")
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn, alembic_config(conn) as cfg:
            command.downgrade(cfg, "0006")
        with engine.connect() as conn:
            assert "task" not in {c["name"] for c in sa.inspect(conn).get_columns("datasets")}
            assert conn.execute(sa.text("SELECT COUNT(*) FROM dataset_snippets")).scalar_one() == 1
    finally:
        engine.dispose()
    with Store(store_url) as s:
        assert s.datasets() == ["d"] and s.dataset_task("d") is None


def test_binding_creates_the_dataset_and_refuses_another_task(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        assert s.bind_dataset_task("st", "safetext") == "safetext"
        assert s.datasets() == ["st"]
        s.add([Snippet("p", "c", label="injurious")], dataset="st")  # stored positive: 'unsafe' for safetext
        assert s.effective_task("st") == "safetext"
        with pytest.raises(TaskMismatch, match="use task=safetext"):
            s.bind_dataset_task("st", "injury")
        with s.transaction() as conn:  # joins a unit of work like every store write
            s.bind_dataset_task("other", "injury", conn=conn)
        assert s.dataset_task("other") == "injury"
        with pytest.raises(KeyError, match="no dataset named 'nope'"):
            s.dataset_task("nope")
        with pytest.raises(ValueError, match="task name must be a non-empty string"):
            s.bind_dataset_task("x", "")


def test_nines_label_into_a_store_binds_the_dataset_to_its_task(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from nines.cli.main import cli

    rows = tmp_path / "gen.jsonl"
    rows.write_text("".join(json.dumps({"prompt": "To clean a pan,", "completion": c,
                                        "metadata": {"unsafe": bad, "injurious": False}}) + "\n"
                            for c, bad in (("mix bleach and ammonia.", True), ("soak it.", False))))
    db = str(tmp_path / "s.db")
    args = ["label", "--input", str(rows), "--store", db, "--dataset", "st"]
    ok = CliRunner().invoke(cli, [*args, "task=safetext"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    with Store(db) as s:
        assert s.dataset_task("st") == "safetext" and s.count(dataset="st") == 2
    bad = CliRunner().invoke(cli, args)  # the injury task into SafeText's dataset: refused, nothing added
    assert bad.exit_code != 0 and "labelled for task 'safetext', not 'injury'" in bad.output
    with Store(db) as s:
        assert s.count(dataset="st") == 2
