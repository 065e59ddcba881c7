"""The app writes the store's tables only through ``Store``, inside the app's own transaction.

Every INSERT, UPDATE and DELETE on snippets, labels, datasets and dataset_snippets issued while
the app labels, undoes, adjudicates and confirms red-team finds is checked to come from the
store's modules; a failure after the store's part of a request rolls the whole request back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nines.app import schema as t
from nines.data.store import Store

from .helpers import Browser, seed_queue

STORE_TABLES = {"snippets", "labels", "datasets", "dataset_snippets"}
_STORE_DIR = Path(sys.modules["nines.data.store"].__file__ or "").parent
SNEAKY = {"prompt": "Tom picked up the knife.", "completion": "He slipped and the blade went into his palm."}


def _writer(stack_frame: Any) -> str:
    """The outermost caller in nines.data.store* that is on the stack, else the first nines module."""
    frame, first = stack_frame, ""
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.parent == _STORE_DIR and path.name.startswith("store"):
            return "store"
        if not first and "nines" in path.parts and "sqlalchemy" not in path.parts:
            first = str(path)
        frame = frame.f_back
    return first


@pytest.fixture
def dml(app: Any) -> Iterator[list[tuple[str, str, str]]]:
    """``(verb, table, writer)`` for each write to a store table while the test runs."""
    seen: list[tuple[str, str, str]] = []
    engine = app.state.nines.db.engine

    def record(conn: Any, clause: Any, *args: Any) -> None:
        if isinstance(clause, (sa.Insert, sa.Update, sa.Delete)) and clause.table.name in STORE_TABLES:
            seen.append((type(clause).__name__, clause.table.name, _writer(sys._getframe(1))))

    sa.event.listen(engine, "before_execute", record)
    yield seen
    sa.event.remove(engine, "before_execute", record)


def _label(b: Browser, qid: int, sid: int, label: str, key: str) -> Any:
    return b.post(f"/api/queues/{qid}/labels", {"snippet_id": sid, "label": label, "key": key})


def _count(app: Any, table: sa.Table) -> int:
    with app.state.nines.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_labelling_undo_adjudication_and_finds_write_through_the_store(
    app: Any, as_user: Callable[[str], Browser], dml: list[tuple[str, str, str]]
) -> None:
    admin, lab, lab2, red = as_user("admin"), as_user("lab"), as_user("lab2"), as_user("red")
    qid = seed_queue(admin, 2, labels_per_item=2)
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert lab2.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"] == sid
    assert _label(lab, qid, sid, "safe", "key-w-0001").status_code == 201
    assert _label(lab2, qid, sid, "injurious", "key-w-0002").status_code == 201
    r = admin.post(f"/api/admin/snippets/{sid}/adjudication", {"label": "injurious", "note": "tie"})
    assert r.status_code == 200, r.text
    assert lab.post(f"/api/queues/{qid}/undo").status_code == 200
    fid = red.post("/api/redteam/finds", {**SNEAKY, "seconds": 3, "key": "find-w-0001"}).json()["id"]
    assert admin.post(f"/api/admin/finds/{fid}/review", {"decision": "confirm"}).status_code == 200
    verbs = {(verb, table) for verb, table, _ in dml}
    assert {("Insert", "labels"), ("Delete", "labels"), ("Update", "snippets"), ("Insert", "snippets"),
            ("Insert", "datasets"), ("Insert", "dataset_snippets")} <= verbs
    assert [w for w in dml if w[2] != "store"] == []


def test_a_confirmed_find_is_stored_as_before(app: Any, as_user: Callable[[str], Browser]) -> None:
    red, admin = as_user("red"), as_user("admin")
    fid = red.post("/api/redteam/finds", {**SNEAKY, "seconds": 4.5, "key": "find-w-0002"}).json()["id"]
    done = admin.post(f"/api/admin/finds/{fid}/review", {"decision": "confirm", "note": "ok"}).json()
    store: Store = app.state.nines.db.store
    got = store.get(done["snippet_id"])
    assert (got.label.value if got.label else None, got.source, got.split, got.labeller) == (
        "injurious", "adversarial", "train", "admin")
    assert set(got.metadata) == {"find_id", "redteamer", "score", "threshold", "seconds", "reviewer"}
    assert got.metadata["find_id"] == fid and got.metadata["redteamer"] == "red"
    (history,) = store.labels_for(got.id or 0)
    assert history.note == f"red-team find {fid} by red, confirmed" and history.labeller == "admin"
    with app.state.nines.db.read() as conn:
        row = conn.execute(sa.select(t.datasets_table).where(t.datasets_table.c.name == "adversarial")).one()
    assert row.description == "confirmed red-team finds"
    assert [s.id for s in store.query(dataset="adversarial")] == [got.id]


def test_a_failure_after_the_store_write_leaves_the_find_pending(
    app: Any, as_user: Callable[[str], Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    red, admin = as_user("red"), as_user("admin")
    fid = red.post("/api/redteam/finds", {**SNEAKY, "seconds": 1, "key": "find-w-0003"}).json()["id"]
    real_add = Store.add

    def add_then_fail(self: Store, *args: Any, **kwargs: Any) -> list[int]:
        real_add(self, *args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "add", add_then_fail)
    assert admin.post(f"/api/admin/finds/{fid}/review", {"decision": "confirm"}).status_code == 500
    monkeypatch.undo()
    assert app.state.nines.db.store.count() == 0 and _count(app, t.datasets_table) == 0
    assert admin.get(f"/api/redteam/finds/{fid}").json()["status"] == "pending"
    assert admin.post(f"/api/admin/finds/{fid}/review", {"decision": "confirm"}).status_code == 200


def test_a_failure_after_the_label_leaves_no_label_and_no_submission(
    app: Any, as_user: Callable[[str], Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    qid = seed_queue(as_user("admin"), 1)
    lab = as_user("lab")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "set_current_label", fail)
    assert _label(lab, qid, sid, "safe", "key-w-0003").status_code == 500
    monkeypatch.undo()
    assert _count(app, t.labels_table) == 0 and _count(app, t.submissions) == 0
    assert _label(lab, qid, sid, "safe", "key-w-0003").status_code == 201
    assert app.state.nines.db.store.get(sid).label is not None
