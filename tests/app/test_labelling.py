"""Labelling queues: handing out items, idempotent submissions, undo, several labels per item, agreement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from nines.app import schema as t
from nines.app.agreement import agreement
from nines.data.store import Store

from .helpers import Browser, add_user, label_all, seed_queue


def _label(b: Browser, qid: int, sid: int, label: str, key: str, note: str | None = None) -> Any:
    return b.post(f"/api/queues/{qid}/labels", {"snippet_id": sid, "label": label, "key": key, "note": note})


def _count(app: Any, table: sa.Table) -> int:
    with app.state.nines.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_same_key_twice_stores_one_label(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 3)
    lab = as_user("lab")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    first = _label(lab, qid, sid, "injurious", "double-click-1", "knife")
    again = _label(lab, qid, sid, "injurious", "double-click-1", "knife")
    assert first.status_code == again.status_code == 201
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert first.json()["submission_id"] == again.json()["submission_id"]
    assert _count(app, t.labels_table) == 1 and _count(app, t.submissions) == 1
    store: Store = app.state.nines.db.store
    history = store.labels_for(sid)
    assert [(h.label.value, h.labeller, h.note) for h in history] == [("injurious", "lab", "knife")]
    assert store.get(sid).label == "injurious"


def test_reusing_a_key_for_another_label_is_a_conflict(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 3)
    lab = as_user("lab")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert _label(lab, qid, sid, "safe", "key-000001").status_code == 201
    r = _label(lab, qid, sid, "injurious", "key-000001")
    assert r.status_code == 409 and "idempotency key" in r.json()["detail"]
    r = _label(lab, qid, sid, "injurious", "key-000002")
    assert r.status_code == 409 and "undo" in r.json()["detail"]
    assert _count(app, t.labels_table) == 1


def test_refresh_returns_the_same_item_until_it_is_labelled(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 3)
    lab = as_user("lab")
    first = lab.get(f"/api/queues/{qid}/next").json()["item"]
    assert lab.get(f"/api/queues/{qid}/next").json()["item"] == first
    _label(lab, qid, first["snippet_id"], "safe", "key-refresh1")
    assert lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"] != first["snippet_id"]


def test_a_queue_runs_out_and_every_item_gets_one_label(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 4)
    lab, lab2 = as_user("lab"), as_user("lab2")
    a = lab.get(f"/api/queues/{qid}/next").json()["item"]
    b = lab2.get(f"/api/queues/{qid}/next").json()["item"]
    assert a["snippet_id"] != b["snippet_id"]  # a held item is not handed to a second labeller
    assert label_all(lab, qid) + label_all(lab2, qid) == 4
    with app.state.nines.db.read() as conn:
        per_item = conn.execute(sa.select(t.submissions.c.snippet_id, sa.func.count())
                                .group_by(t.submissions.c.snippet_id)).all()
    assert len(per_item) == 4 and all(n == 1 for _, n in per_item)


def test_undo_withdraws_the_label_and_hands_the_item_back(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 3)
    lab = as_user("lab")
    item = lab.get(f"/api/queues/{qid}/next").json()["item"]
    _label(lab, qid, item["snippet_id"], "injurious", "key-undo-01")
    r = lab.post(f"/api/queues/{qid}/undo")
    assert r.status_code == 200 and r.json()["item"] == item and r.json()["label"] == "injurious"
    store: Store = app.state.nines.db.store
    assert store.labels_for(item["snippet_id"]) == [] and store.get(item["snippet_id"]).label is None
    assert lab.get(f"/api/queues/{qid}/next").json()["item"] == item
    # A retry of the undone request stays a no-op; a fresh key labels the item again.
    assert _label(lab, qid, item["snippet_id"], "injurious", "key-undo-01").json()["duplicate"] is True
    assert _label(lab, qid, item["snippet_id"], "safe", "key-undo-02").json()["duplicate"] is False
    assert [h.label.value for h in store.labels_for(item["snippet_id"])] == ["safe"]
    assert lab.post(f"/api/queues/{qid}/undo").status_code == 200
    r = lab.post(f"/api/queues/{qid}/undo")
    assert r.status_code == 404 and "no label" in r.json()["detail"]


def test_several_labels_per_item_and_agreement(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    add_user(app, "lab3", "labeller")
    qid = seed_queue(admin, 2, labels_per_item=3)
    labellers = [as_user("lab"), as_user("lab2"), Browser(app, "lab3")]
    answers = {0: ["injurious", "injurious", "injurious"], 1: ["safe", "safe", "injurious"]}
    for j, b in enumerate(labellers):
        for i in range(2):
            item = b.get(f"/api/queues/{qid}/next").json()["item"]
            idx = int(item["prompt"].rsplit("(", 1)[1].rstrip(")"))
            assert _label(b, qid, item["snippet_id"], answers[idx][j], f"k-{j}-{i}-xyz").status_code == 201
        assert b.get(f"/api/queues/{qid}/next").json()["item"] is None  # never the same item twice
    ag = admin.get(f"/api/admin/queues/{qid}/agreement").json()
    assert ag["items"] == 2 and ag["labels"] == 6 and ag["unanimous"] == 1
    assert abs(ag["pairwise"] - (6 + 2) / 12) < 1e-9
    assert len(ag["disagreements"]) == 1 and {x["label"] for x in ag["disagreements"][0]["labels"]} == {
        "safe", "injurious"}
    store: Store = app.state.nines.db.store
    majority = {s.prompt.rsplit("(", 1)[1].rstrip(")"): s.label.value for s in store.query(dataset="d1")
                if s.label is not None}
    assert majority == {"0": "injurious", "1": "safe"}
    dash = admin.get("/api/admin/dashboard").json()
    assert dash["queues"][0]["agreement"]["items"] == 2 and dash["labels"]["app_labels"] == 6
    page = admin.get("/admin").text
    assert "<td>2</td>" in page and "0.667" in page and "built-in" not in page


def test_krippendorff_alpha_matches_a_worked_example() -> None:
    # Perfect agreement: alpha 1; systematic disagreement on binary labels: below 0.
    assert agreement({1: ["a", "a"], 2: ["b", "b"]}).alpha == 1.0
    assert (agreement({1: ["a", "b"], 2: ["a", "b"]}).alpha or 0) < 0
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: alpha 0.743.
    data = {1: "aaa", 2: "bbcb", 3: "cccc", 4: "cccc", 5: "bbbb", 6: "abcd", 7: "dddd", 8: "aaba", 9: "bbbb",
            10: "eee", 11: "aa", 12: "c"}
    assert round(agreement({k: list(v) for k, v in data.items()}).alpha or 0, 3) == 0.743
    assert agreement({1: ["a"]}).pairwise is None


def test_closed_queues_hand_out_nothing(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    qid = seed_queue(admin, 2)
    assert admin.send("PATCH", f"/api/admin/queues/{qid}", {"active": False}).status_code == 200
    lab = as_user("lab")
    assert lab.get("/api/queues").json() == []
    r = lab.get(f"/api/queues/{qid}/next")
    assert r.status_code == 409 and "closed" in r.json()["detail"]


def test_uncertainty_queue_orders_by_classifier_score(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    items = [{"prompt": "Tom ran.", "completion": c} for c in ("He smiled.", "He cut his hand.", "He slept.")]
    admin.post("/api/admin/snippets", {"dataset": "u", "items": items})
    r = admin.post("/api/admin/queues", {"name": "uq", "dataset": "u", "strategy": "uncertainty"})
    assert r.status_code == 201 and r.json()["size"] == 3
    first = as_user("lab").get(f"/api/queues/{r.json()['id']}/next").json()["item"]
    assert first["completion"] == "He cut his hand."  # keyword score 0.55, the closest to 0.5


def test_queue_errors_are_clear(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    r = admin.post("/api/admin/queues", {"name": "x", "dataset": "missing"})
    assert r.status_code == 404 and "missing" in r.json()["detail"]
    seed_queue(admin, 1)
    r = admin.post("/api/admin/queues", {"name": "q1", "dataset": "d1"})
    assert r.status_code == 409
    lab = as_user("lab")
    assert lab.get("/api/queues/999/next").status_code == 404
    r = _label(lab, 1, 999, "safe", "key-unknown1")
    assert r.status_code == 404 and "not in queue" in r.json()["detail"]
