"""The store's unit of work, its label-history writes, and prompt ids (migration 0006, JSONL, query)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from nines.data.io import read_jsonl
from nines.data.record import Label, Snippet
from nines.data.store import Store, StoreError, alembic_config, make_engine, upgrade
from pg import fresh_database

_OWN = sa.Table("own_rows", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Text))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and PostgreSQL when $NINES_TEST_POSTGRES_URL is set."""
    yield from fresh_database(request.param, str(tmp_path / "uow.db"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as s:
        with s.transaction() as conn:
            _OWN.create(conn)
        yield s


def _own_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(_OWN)).scalar_one())


# ----------------------------------------------------------------------------- unit of work


def test_own_rows_and_store_writes_commit_together(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(_OWN.insert().values(v="mine"))
        (sid,) = store.add([Snippet("p", "c", label="safe", labeller="ann")], dataset="d", conn=conn)
        store.set_label(sid, "injurious", "bob", conn=conn)
        # Reads given the connection see the uncommitted writes.
        assert store.get(sid, conn=conn).label is Label.INJURIOUS
        assert store.count(dataset="d", conn=conn) == 1
    assert _own_count(store) == 1
    assert [(h.label, h.labeller) for h in store.labels_for(sid)] == [(Label.SAFE, "ann"), (Label.INJURIOUS, "bob")]


def test_a_failure_after_a_store_write_rolls_both_back(store: Store) -> None:
    store.add([Snippet("kept", "kept")], dataset="d")
    with pytest.raises(RuntimeError, match="app failed"), store.transaction() as conn:
        conn.execute(_OWN.insert().values(v="mine"))
        store.add([Snippet("p", "c", label="safe")], dataset="d", conn=conn)
        store.create_dataset("new", conn=conn)
        raise RuntimeError("app failed")
    assert _own_count(store) == 0
    assert store.count() == 1 and store.datasets() == ["d"]


def test_a_store_refusal_inside_a_unit_of_work_rolls_back_the_app_rows(store: Store) -> None:
    with pytest.raises(ValueError, match="label must be one of"), store.transaction() as conn:
        conn.execute(_OWN.insert().values(v="mine"))
        (sid,) = store.add([Snippet("p", "c")], conn=conn)
        store.set_label(sid, "maybe", "bob", conn=conn)
    assert _own_count(store) == 0 and store.count() == 0


def test_connections_of_another_database_or_outside_a_transaction_are_refused(store: Store, tmp_path: Path) -> None:
    with Store(tmp_path / "other.db") as other, other.transaction() as foreign:
        with pytest.raises(StoreError, match="not on"):
            store.add([Snippet("p", "c")], conn=foreign)
        with pytest.raises(StoreError, match="not on"):
            store.query(conn=foreign)
    with store.engine.connect() as idle, pytest.raises(StoreError, match="no open transaction"):
        store.create_dataset("d", conn=idle)
    assert store.count() == 0 and store.datasets() == []


def test_transaction_joins_an_open_one_instead_of_nesting(store: Store) -> None:
    with store.transaction() as outer:
        with store.transaction(outer) as inner:
            assert inner is outer
            store.add([Snippet("p", "c")], conn=inner)
        outer.rollback()
    assert store.count() == 0


# ----------------------------------------------------------------------------- history-only writes


def test_record_and_remove_label_leave_the_current_label_alone(store: Store) -> None:
    (sid,) = store.add([Snippet("p", "c", label="safe", labeller="ann")])
    lid = store.record_label(sid, Label.INJURIOUS, "bob", note="cut")
    assert store.get(sid).label is Label.SAFE
    assert [(h.id, h.note) for h in store.labels_for(sid)][-1] == (lid, "cut")
    assert store.remove_label(lid) is True and store.remove_label(lid) is False
    assert [h.labeller for h in store.labels_for(sid)] == ["ann"] and store.get(sid).label is Label.SAFE
    with pytest.raises(KeyError, match="no snippet with id 999"):
        store.record_label(999, "safe", "bob")
    with pytest.raises(ValueError, match="got None"):
        store.record_label(sid, None, "bob")  # type: ignore[arg-type]


def test_set_current_label_changes_no_history_and_may_clear(store: Store) -> None:
    (sid,) = store.add([Snippet("p", "c", label="safe", labeller="ann")])
    store.set_current_label(sid, "unsure", "adjudicated by root")
    got = store.get(sid)
    assert (got.label, got.labeller) == (Label.UNSURE, "adjudicated by root")
    store.set_current_label(sid, None, None)
    assert store.get(sid).label is None and len(store.labels_for(sid)) == 1
    with pytest.raises(ValueError, match="label must be one of"):
        store.set_current_label(sid, "maybe", None)
    with pytest.raises(KeyError, match="no snippet with id 999"):
        store.set_current_label(999, "safe", None)


def test_add_note_goes_on_the_first_history_rows(store: Store) -> None:
    ids = store.add([Snippet("a", "b", label="injurious"), Snippet("c", "d")], note="red-team find 3")
    assert [h.note for h in store.labels_for(ids[0])] == ["red-team find 3"]
    assert store.labels_for(ids[1]) == []


def test_create_dataset_returns_its_id_and_keeps_the_first_description(store: Store) -> None:
    first = store.create_dataset("d", description="one")
    assert store.create_dataset("d", description="two") == first
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT description FROM datasets")).scalar_one() == "one"
    with pytest.raises(ValueError, match="non-empty string"):
        store.add([Snippet("p", "c")], dataset="")
    assert store.count() == 0


# ----------------------------------------------------------------------------- prompt ids


def test_prompt_id_round_trips_through_store_and_jsonl(store: Store, tmp_path: Path) -> None:
    ids = store.add([Snippet("p", "c", prompt_id="scene:12"), Snippet("q", "d")])
    assert [store.get(i).prompt_id for i in ids] == ["scene:12", None]
    out = tmp_path / "out.jsonl"
    store.export_jsonl(out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["prompt_id"] == "scene:12" and "prompt_id" not in rows[1]
    back = read_jsonl(out)
    assert [s.prompt_id for s in back] == ["scene:12", None] and back[0].metadata == {}


def test_a_bad_prompt_id_is_refused_with_the_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="at most 128 characters"):
        store.add([Snippet("p", "c", prompt_id="x" * 129)])
    with pytest.raises(ValueError, match="prompt_id must be a string"):
        Snippet("p", "c", prompt_id=7)  # type: ignore[arg-type]
    assert store.count() == 0


def test_upgrade_to_0006_gives_old_rows_null_and_downgrade_keeps_labels(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0005")
    finally:
        engine.dispose()
    with Store(store_url) as s:  # opening upgrades 0005 -> head
        (sid,) = s.add([Snippet("p", "c", label="safe", labeller="ann", prompt_id="scene:1")], dataset="d")
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn, alembic_config(conn) as cfg:
            command.downgrade(cfg, "0005")
        with engine.connect() as conn:
            assert "prompt_id" not in {c["name"] for c in sa.inspect(conn).get_columns("snippets")}
            # A table copy of snippets would have cascaded these away.
            assert conn.execute(sa.text("SELECT COUNT(*) FROM labels")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT COUNT(*) FROM dataset_snippets")).scalar_one() == 1
    finally:
        engine.dispose()
    with Store(store_url) as s:
        got = s.get(sid)
        assert (got.prompt_id, got.label) == (None, Label.SAFE) and len(s.labels_for(sid)) == 1
