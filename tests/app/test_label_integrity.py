"""Label integrity: who may label an item, the labels-per-item limit, the stored label's rule, adjudication.

A submission is accepted for an item the queue handed to this labeller (their live hold), or for
an item still under its labels-per-item limit that nobody else holds; anything else is a 409.
The snippet's stored label is the most common of its labels; a tie is settled by an admin's
adjudication, and until then the snippet is unlabelled. The races run against a live server.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from nines.app import schema as t
from nines.app.db import now
from nines.app.loadtest import login
from nines.data.store import Store

from .helpers import PASSWORD, Browser, add_user, seed_queue


def _label(b: Browser, qid: int, sid: int, label: str, key: str) -> Any:
    return b.post(f"/api/queues/{qid}/labels", {"snippet_id": sid, "label": label, "key": key})


def _live(app: Any, qid: int, sid: int) -> list[str]:
    s = t.submissions
    with app.state.nines.db.read() as conn:
        return [r.label for r in conn.execute(sa.select(s.c.label).where(
            s.c.queue_id == qid, s.c.snippet_id == sid, s.c.undone_at.is_(None)).order_by(s.c.id))]


def _stored(app: Any, sid: int) -> str | None:
    store: Store = app.state.nines.db.store
    label = store.get(sid).label
    return None if label is None else label.value


def test_an_item_held_for_another_labeller_is_refused(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 3)
    lab, lab2 = as_user("lab"), as_user("lab2")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    r = _label(lab2, qid, sid, "safe", "lab2-steal-1")
    assert r.status_code == 409 and "another labeller" in r.json()["detail"]
    assert _live(app, qid, sid) == []
    assert _label(lab, qid, sid, "injurious", "lab-own-0001").status_code == 201  # the holder still can
    assert _stored(app, sid) == "injurious"


def test_a_labelled_item_cannot_be_overwritten_by_another_labeller(
        app: Any, as_user: Callable[[str], Browser]) -> None:
    # The reproduction: one label per item, A says injurious, C sends safe for the same item.
    qid = seed_queue(as_user("admin"), 3)
    lab, lab2 = as_user("lab"), as_user("lab2")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert _label(lab, qid, sid, "injurious", "lab-first-01").status_code == 201
    r = _label(lab2, qid, sid, "safe", "lab2-over-01")
    assert r.status_code == 409 and "already has" in r.json()["detail"]
    assert _live(app, qid, sid) == ["injurious"] and _stored(app, sid) == "injurious"
    store: Store = app.state.nines.db.store
    assert [h.labeller for h in store.labels_for(sid)] == ["lab"]


def test_no_label_beyond_the_limit(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    add_user(app, "lab3", "labeller")
    qid = seed_queue(admin, 1, labels_per_item=2)
    lab, lab2, lab3 = as_user("lab"), as_user("lab2"), Browser(app, "lab3")
    for b, name in ((lab, "lab"), (lab2, "lab2")):
        sid = b.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
        assert _label(b, qid, sid, "safe", f"{name}-limit-01").status_code == 201
    assert lab3.get(f"/api/queues/{qid}/next").json()["item"] is None
    r = _label(lab3, qid, sid, "injurious", "lab3-third-1")
    assert r.status_code == 409 and "2 labels" in r.json()["detail"]
    assert _live(app, qid, sid) == ["safe", "safe"]


def test_an_unheld_item_under_its_limit_is_accepted(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 3)
    lab, lab2 = as_user("lab"), as_user("lab2")
    first = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    other = next(s for s in _queue_items(app, qid) if s != first)
    # Nobody holds ``other`` and it has no label yet: labelling it directly is allowed ...
    assert _label(lab2, qid, other, "safe", "lab2-direct1").status_code == 201
    # ... and the queue then never hands it out again.
    assert lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"] == first
    assert _label(lab, qid, first, "safe", "lab-first-02").status_code == 201
    nxt = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert nxt not in (first, other)


def test_an_expired_hold_no_longer_reserves_the_item(app: Any, as_user: Callable[[str], Browser]) -> None:
    qid = seed_queue(as_user("admin"), 1)
    lab, lab2 = as_user("lab"), as_user("lab2")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    a = t.assignments
    with app.state.nines.db.write() as conn:
        conn.execute(a.update().values(expires_at=now() - timedelta(minutes=1)))
    assert _label(lab2, qid, sid, "safe", "lab2-late-01").status_code == 201
    r = _label(lab, qid, sid, "injurious", "lab-stale-01")  # lab's hold lapsed and the only slot is gone
    assert r.status_code == 409 and "already has" in r.json()["detail"]
    assert _live(app, qid, sid) == ["safe"]


def _queue_items(app: Any, qid: int) -> list[int]:
    qi = t.queue_items
    with app.state.nines.db.read() as conn:
        return [int(r[0]) for r in conn.execute(sa.select(qi.c.snippet_id).where(qi.c.queue_id == qid)
                                                .order_by(qi.c.snippet_id))]


def test_a_tie_is_not_settled_by_the_last_writer(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    qid = seed_queue(admin, 1, labels_per_item=2)
    lab, lab2 = as_user("lab"), as_user("lab2")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert _label(lab, qid, sid, "injurious", "tie-lab-0001").status_code == 201
    assert _stored(app, sid) == "injurious"  # one label: it is the majority
    lab2.get(f"/api/queues/{qid}/next")
    assert _label(lab2, qid, sid, "safe", "tie-lab2-001").status_code == 201
    assert _stored(app, sid) is None  # 1 to 1: unlabelled until an admin adjudicates
    ties = admin.get("/api/admin/adjudications").json()
    assert [(x["snippet_id"], x["counts"]) for x in ties] == [(sid, {"injurious": 1, "safe": 1})]
    # Agreement still counts both labels.
    ag = admin.get(f"/api/admin/queues/{qid}/agreement").json()
    assert ag["labels"] == 2 and ag["pairwise"] == 0.0


def test_the_admin_adjudicates_a_tie(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    add_user(app, "lab3", "labeller")
    qid = seed_queue(admin, 1, labels_per_item=3)
    lab, lab2, lab3 = as_user("lab"), as_user("lab2"), Browser(app, "lab3")
    for b, label in ((lab, "safe"), (lab2, "injurious")):
        sid = b.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
        assert _label(b, qid, sid, label, f"adj-{label}-01").status_code == 201
    assert lab.post(f"/api/admin/snippets/{sid}/adjudication", {"label": "safe"}).status_code == 403
    r = admin.post(f"/api/admin/snippets/{sid}/adjudication", {"label": "injurious", "note": "a cut is an injury"})
    assert r.status_code == 200 and r.json()["label"] == "injurious", r.text
    assert _stored(app, sid) == "injurious" and admin.get("/api/admin/adjudications").json() == []
    store: Store = app.state.nines.db.store
    assert store.get(sid).labeller == "adjudicated by admin"
    assert len(store.labels_for(sid)) == 2  # an adjudication is not a vote: agreement is unchanged
    # A third label breaks the tie: the majority rules again, whatever the adjudication said.
    sid3 = lab3.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert sid3 == sid and _label(lab3, qid, sid, "safe", "adj-lab3-001").status_code == 201
    assert _stored(app, sid) == "safe"
    r = admin.post(f"/api/admin/snippets/{sid}/adjudication", {"label": "injurious"})
    assert r.status_code == 409 and "majority" in r.json()["detail"]
    # Undoing the third label brings the tie back, and the adjudication with it.
    assert lab3.post(f"/api/queues/{qid}/undo").status_code == 200
    assert _stored(app, sid) == "injurious"
    assert admin.post("/api/admin/snippets/999/adjudication", {"label": "safe"}).status_code == 404


def test_the_dashboard_lists_ties_with_a_control(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    qid = seed_queue(admin, 1, labels_per_item=2)
    for b, label in ((as_user("lab"), "safe"), (as_user("lab2"), "injurious")):
        sid = b.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
        assert _label(b, qid, sid, label, f"dash-{label}-1").status_code == 201
    page = admin.get("/admin").text
    assert f'data-snippet="{sid}"' in page and 'class="adjudicate' in page and "He fed duck number 0." in page


def test_undo_on_a_closed_queue_is_refused(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    qid = seed_queue(admin, 2)
    lab = as_user("lab")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert _label(lab, qid, sid, "injurious", "closed-undo1").status_code == 201
    assert admin.send("PATCH", f"/api/admin/queues/{qid}", {"active": False}).status_code == 200
    r = lab.post(f"/api/queues/{qid}/undo")
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    assert _live(app, qid, sid) == ["injurious"] and _stored(app, sid) == "injurious"


# --- real parallel requests against a live server -------------------------------------------------------


async def _race(base: str, names: list[str], qid: int, sid: int, via_next: set[str]) -> dict[str, int]:
    """Every labeller submits ``sid`` at once (those in ``via_next`` ask for their next item first)."""
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in names]
    try:
        csrf = await asyncio.gather(*(login(c, n, PASSWORD) for c, n in zip(clients, names)))
        go = asyncio.Event()

        async def one(client: httpx.AsyncClient, name: str, token: str) -> int:
            await go.wait()
            if name in via_next:
                item = (await client.get(f"/api/queues/{qid}/next")).json()["item"]
                if item is None:
                    return 0  # nothing left for this labeller: it submits nothing
                assert item["snippet_id"] == sid
            r = await client.post(f"/api/queues/{qid}/labels", headers={"X-CSRF-Token": token},
                                  json={"snippet_id": sid, "label": "safe", "key": f"race-{name}-0001"})
            return r.status_code

        tasks = [asyncio.create_task(one(c, n, tok)) for c, n, tok in zip(clients, names, csrf)]
        await asyncio.sleep(0.05)
        go.set()
        codes = await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return dict(zip(names, codes))


def test_racing_for_the_last_slot_stores_exactly_the_limit(app: Any, as_user: Callable[[str], Browser],
                                                           live_server: Any) -> None:
    admin = as_user("admin")
    names = [f"racer{i}" for i in range(8)]
    for n in names:
        add_user(app, n, "labeller")
    qid = seed_queue(admin, 1, labels_per_item=3)
    lab = as_user("lab")
    sid = lab.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
    assert _label(lab, qid, sid, "injurious", "race-first-1").status_code == 201
    with live_server(app) as server:
        codes = asyncio.run(_race(f"http://127.0.0.1:{server.port}", names, qid, sid, set()))
    assert Counter(codes.values()) == {201: 2, 409: 6}, codes
    assert len(_live(app, qid, sid)) == 3


def test_racing_next_and_direct_submissions_store_one_label(app: Any, as_user: Callable[[str], Browser],
                                                            live_server: Any) -> None:
    admin = as_user("admin")
    names = [f"racer{i}" for i in range(8)]
    for n in names:
        add_user(app, n, "labeller")
    qid = seed_queue(admin, 1, labels_per_item=1)
    sid = _queue_items(app, qid)[0]
    with live_server(app) as server:
        codes = asyncio.run(_race(f"http://127.0.0.1:{server.port}", names, qid, sid, set(names[::2])))
    submitted = Counter(c for c in codes.values() if c)
    assert submitted[201] == 1 and set(submitted) <= {201, 409}, codes
    assert len(_live(app, qid, sid)) == 1


def test_the_admin_settles_a_tie_from_the_dashboard_in_chromium(app: Any, as_user: Callable[[str], Browser],
                                                                live_server: Any) -> None:
    from .test_browser import ARGS, CHROMIUM, _browser_or_skip, _login

    pw = _browser_or_skip()
    qid = seed_queue(as_user("admin"), 1, labels_per_item=2)
    for b, label in ((as_user("lab"), "safe"), (as_user("lab2"), "injurious")):
        sid = b.get(f"/api/queues/{qid}/next").json()["item"]["snippet_id"]
        assert _label(b, qid, sid, label, f"web-{label}-01").status_code == 201
    assert _stored(app, sid) is None
    with live_server(app) as server, pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = _login(browser, f"http://127.0.0.1:{server.port}", "admin")
            page.goto(f"http://127.0.0.1:{server.port}/admin")
            page.click(f'button.adjudicate[data-snippet="{sid}"][data-label="injurious"]')
            page.wait_for_function("() => document.body.textContent.includes('No ties.')", timeout=15_000)
            assert _stored(app, sid) == "injurious"  # before the server stops (its shutdown closes the store)
        finally:
            browser.close()
