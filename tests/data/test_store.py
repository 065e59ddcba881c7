"""The snippet store: round trips, filters, labels, datasets, migrations, transactions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from nines.data.io import DataError, read_jsonl
from nines.data.record import Label, Snippet
from nines.data.store import LabelRecord, Store, StoreError, alembic_config, make_engine, upgrade
from pg import fresh_database


def _head() -> str:
    """The newest migration's revision (the store upgrades every database to it)."""
    from alembic.script import ScriptDirectory

    with alembic_config() as cfg:
        head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and PostgreSQL when $NINES_TEST_POSTGRES_URL is set."""
    yield from fresh_database(request.param, str(tmp_path / "runs" / "x" / "nines.db"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as s:
        yield s


def _snips() -> list[Snippet]:
    return [
        Snippet("Tom went to the park.", "He fed the ducks.", label=Label.SAFE, source="seed", split="train",
                labeller="alice", metadata={"family": "park", "score": 0.1}),
        Snippet("Lily found a knife.", "She cut her friend.", label=Label.INJURIOUS, source="seed", split="train",
                labeller="alice"),
        Snippet("The cat sat.", "It purred.", source="generated", split="test"),
        Snippet("Ben climbed a tree.", "He fell and hurt his arm.", label=Label.UNSURE, source="adversarial",
                split="val", metadata={"nested": {"a": [1, 2, None]}}),
    ]


def _raw_count(url: str, table: str = "snippets") -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- round trip and filters


def test_add_get_round_trip(store: Store) -> None:
    snips = _snips()
    ids = store.add(snips)
    assert len(ids) == 4 and len(set(ids)) == 4
    assert [s.id for s in snips] == ids
    for snip, i in zip(_snips(), ids):
        got = store.get(i)
        snip.id = i
        assert got == snip
    assert isinstance(store.get(ids[1]).label, Label)
    assert store.get(ids[1]).is_injurious is True


def test_get_missing_raises_clear_key_error(store: Store) -> None:
    with pytest.raises(KeyError, match="no snippet with id 999"):
        store.get(999)


def test_query_and_count_filters(store: Store) -> None:
    ids = store.add(_snips())
    assert store.count() == 4
    assert [s.id for s in store.query()] == ids
    assert [s.prompt for s in store.query(source="seed")] == ["Tom went to the park.", "Lily found a knife."]
    assert store.count(split="train") == 2
    assert store.count(label=Label.INJURIOUS) == 1
    assert store.count(label=Label.SAFE) == 1
    assert store.count(source="seed", label=Label.SAFE, split="train") == 1
    assert store.count(source="seed", split="test") == 0
    assert len(store.query(limit=3)) == 3
    assert store.count(limit=3) == 3
    assert store.count(labelled=False) == 1
    assert store.count(labelled=True) == 3
    with pytest.raises(ValueError, match="label must be one of"):
        store.query(label="maybe")
    with pytest.raises(ValueError, match="split must be one of"):
        store.count(split="dev")


def test_add_nothing_returns_empty(store: Store) -> None:
    assert store.add([]) == []
    assert store.count() == 0


# ----------------------------------------------------------------------------- datasets


def test_datasets_membership(store: Store) -> None:
    a = store.add(_snips()[:2], dataset="seed-v1")
    b = store.add(_snips()[2:], dataset="pool")
    store.add_to_dataset("seed-v1", [b[0]])
    store.add_to_dataset("seed-v1", [a[0]])  # already a member: no duplicate
    store.create_dataset("empty", description="nothing yet")
    assert store.datasets() == ["empty", "pool", "seed-v1"]
    assert [s.id for s in store.query(dataset="seed-v1")] == [*a, b[0]]
    assert store.count(dataset="pool") == 2
    assert store.count(dataset="pool", split="val") == 1
    assert store.count(dataset="empty") == 0
    assert store.count(dataset="no-such-dataset") == 0
    with pytest.raises(KeyError):
        store.add_to_dataset("pool", [12345])


# ----------------------------------------------------------------------------- labels


def test_set_label_records_history_and_current_label(store: Store) -> None:
    i, j = store.add(_snips()[1:3])
    history = store.labels_for(i)
    assert [(h.label, h.labeller) for h in history] == [(Label.INJURIOUS, "alice")]
    assert store.labels_for(j) == []

    store.set_label(j, "safe", labeller="bob", note="harmless")
    store.set_label(j, Label.INJURIOUS, labeller="oracle")
    got = store.get(j)
    assert got.label is Label.INJURIOUS and got.labeller == "oracle"
    history = store.labels_for(j)
    assert all(isinstance(h, LabelRecord) for h in history)
    assert [(h.label, h.labeller, h.note) for h in history] == [
        (Label.SAFE, "bob", "harmless"),
        (Label.INJURIOUS, "oracle", None),
    ]
    assert history[0].created_at.tzinfo is not None
    assert store.count(label=Label.INJURIOUS) == 2


def test_set_label_rejects_bad_input_without_changes(store: Store) -> None:
    (i,) = store.add(_snips()[2:3])
    with pytest.raises(ValueError, match="label must be one of"):
        store.set_label(i, "maybe", labeller="bob")
    with pytest.raises(KeyError, match="no snippet with id 777"):
        store.set_label(777, "safe", labeller="bob")
    with pytest.raises(KeyError):
        store.labels_for(777)
    assert store.get(i).label is None
    assert store.labels_for(i) == []


# ----------------------------------------------------------------------------- transactions


def test_failed_add_keeps_earlier_rows(store: Store, store_url: str) -> None:
    store.add(_snips()[:2], dataset="kept")
    before = store.query()
    good = Snippet("Fine prompt.", "Fine completion.")
    bad = Snippet("Bad prompt.", "Bad completion.", metadata={"when": object()})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        store.add([good, bad], dataset="kept")
    assert store.count() == 2
    assert store.query() == before
    assert store.count(dataset="kept") == 2
    assert good.id is None
    assert _raw_count(store_url, "labels") == 2


def test_database_error_mid_add_rolls_back_whole_transaction(store: Store) -> None:
    store.add(_snips()[:1])
    sneaky = Snippet("p", "c", split="train")
    sneaky.split = "bogus"  # bypasses the record's check; must still not reach the table
    with pytest.raises(ValueError, match="split must be one of"):
        store.add([Snippet("ok", "ok"), sneaky])
    assert store.count() == 1


def test_failure_after_insert_rolls_back_inserted_rows(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.add(_snips()[:1], dataset="d")

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    # the snippet rows are already INSERTed in this transaction when the label rows fail
    monkeypatch.setattr(Store, "_insert_initial_labels", staticmethod(boom))
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.add(_snips()[1:], dataset="d")
    monkeypatch.undo()
    assert store.count() == 1
    assert store.count(dataset="d") == 1
    store.add(_snips()[1:2])
    assert store.count() == 2


def test_data_survives_reopen(store_url: str) -> None:
    with Store(store_url) as s:
        ids = s.add(_snips(), dataset="d")
        s.set_label(ids[2], "safe", "bob")
    with Store(store_url) as s:
        assert s.count() == 4
        assert s.count(dataset="d") == 4
        assert s.get(ids[2]).label is Label.SAFE
        assert len(s.labels_for(ids[2])) == 1


def test_closed_store_refuses_use(store_url: str) -> None:
    s = Store(store_url)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.count()


# ----------------------------------------------------------------------------- migrations


def test_fresh_database_is_at_head(store: Store) -> None:
    assert store.schema_version() == _head() >= "0002"


def test_upgrade_from_0001_keeps_rows_and_backfills_labels(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        assert upgrade(engine, "0001") == "0001"
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO snippets (prompt, completion, label, source, labeller, split, metadata, "
                    "created_at, content_hash) VALUES (:p, :c, :l, :s, :who, :sp, :m, CURRENT_TIMESTAMP, :h)"
                ),
                {"p": "Old prompt.", "c": "Old completion.", "l": "injurious", "s": "seed", "who": "carol",
                 "sp": "train", "m": json.dumps({"k": 1}), "h": "x" * 64},
            )
            names = set(sa.inspect(conn).get_table_names())
        assert "labels" not in names and "snippets" in names
    finally:
        engine.dispose()
    with Store(store_url) as s:
        assert s.schema_version() == _head()
        (old,) = s.query()
        assert (old.prompt, old.label, old.metadata, old.split) == ("Old prompt.", Label.INJURIOUS, {"k": 1}, "train")
        (history,) = s.labels_for(old.id or 0)
        assert (history.label, history.labeller) == (Label.INJURIOUS, "carol")
        assert "migration 0002" in (history.note or "")


def test_downgrade_to_0001_and_back_keeps_snippets(store_url: str) -> None:
    with Store(store_url) as s:
        ids = s.add(_snips())
        s.set_label(ids[2], "safe", "bob")
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn, alembic_config(conn) as cfg:
            command.downgrade(cfg, "0001")
        with engine.connect() as conn:
            assert "labels" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    with Store(store_url) as s:
        assert s.schema_version() == _head()
        assert s.count() == 4
        # the history is rebuilt from the current labels
        assert [(h.label, h.labeller) for h in s.labels_for(ids[2])] == [(Label.SAFE, "bob")]
        assert s.labels_for(ids[3])[0].label is Label.UNSURE


def test_upgrade_is_a_no_op_at_head(store_url: str) -> None:
    with Store(store_url) as s:
        s.add(_snips())
    engine = make_engine(store_url)
    try:
        assert upgrade(engine) == _head()
    finally:
        engine.dispose()
    assert _raw_count(store_url) == 4


def test_unknown_newer_revision_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="0099"):
        Store(store_url)


# ----------------------------------------------------------------------------- JSONL import/export


def test_import_jsonl_bad_line_stores_nothing(store: Store, tmp_path: Path) -> None:
    store.add(_snips()[:1])
    path = tmp_path / "data.jsonl"
    lines = [json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}) for i in range(5)]
    lines[3] = json.dumps({"prompt": "p3", "completion": "c3", "label": "maybe"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        store.import_jsonl(path, dataset="imported")
    message = str(info.value)
    assert str(path) in message and "line 4" in message and 'field "label"' in message
    assert store.count() == 1
    assert "imported" not in store.datasets()


def test_import_export_round_trip(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(s.to_dict()) for s in _snips()) + "\n\n")
    ids = store.import_jsonl(src, dataset="imp")
    assert len(ids) == 4 and store.count(dataset="imp") == 4
    out = tmp_path / "out" / "seed.jsonl"
    assert store.export_jsonl(out, source="seed") == 2
    back = read_jsonl(out)
    assert [(s.prompt, s.label, s.id) for s in back] == [(s.prompt, s.label, s.id) for s in store.query(source="seed")]


# ----------------------------------------------------------------------------- engines


def test_plain_path_and_sqlite_url_are_the_same_database(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with Store(db) as s:
        s.add(_snips())
    with Store(f"sqlite:///{db}") as s:
        assert s.count() == 4


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as s, s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_in_memory_sqlite_works() -> None:
    with Store("sqlite://") as s:
        s.add(_snips())
        assert s.count() == 4


def test_missing_postgres_driver_gives_install_hint() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg is installed, so the missing-driver message cannot be shown")
    with pytest.raises(StoreError, match=r"pip install 'nines\[postgres\]'"):
        Store("postgresql://user:secret@localhost/nines")
