"""Crash safety: kill -9 the server in the middle of a labelling load, restart, check nothing is lost or torn.

Every label the server acknowledged (2xx) must be in the store after the restart, every stored
submission must have its label row and vice versa, and a labeller re-sending an unanswered
request with the same idempotency key must not add a second label.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from nines.app import schema as t
from nines.app.loadtest import ServerProcess, create_admin, login, run_load, setup
from nines.data.store import make_engine

from .helpers import reset_postgres

LABELLERS, PER_LABELLER, KILL_AFTER = 8, 40, 60


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _snapshot(db: str) -> dict[str, Any]:
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            s, lt, u, sn = t.submissions, t.labels_table, t.users, t.snippets_table
            subs = conn.execute(sa.select(u.c.username, s.c.idem_key, s.c.snippet_id, s.c.label, s.c.label_id)
                                .join(u, u.c.id == s.c.user_id).where(s.c.undone_at.is_(None))).all()
            labels = {r.id: r for r in conn.execute(sa.select(lt))}
            current = dict(conn.execute(sa.select(sn.c.id, sn.c.label)).all())
            integrity = (conn.exec_driver_sql("PRAGMA integrity_check").scalar()
                         if engine.dialect.name == "sqlite" else "ok")
        return {"subs": subs, "labels": labels, "current": current, "integrity": integrity}
    finally:
        engine.dispose()


def _check_consistent(snap: dict[str, Any]) -> None:
    labels = snap["labels"]
    for sub in snap["subs"]:
        row = labels.get(sub.label_id)
        assert row is not None, f"submission {sub.idem_key} has no label row"
        assert (row.snippet_id, row.label, row.labeller) == (sub.snippet_id, sub.label, sub.username)
    assert len(labels) == len(snap["subs"]), "a label row without its submission"
    for sub in snap["subs"]:
        assert snap["current"][sub.snippet_id] is not None  # the snippet's current label was updated too
    assert snap["integrity"] == "ok"


async def _resend(base: str, name: str, queue_id: int, key: str, snippet_id: int, label: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        headers = {"X-CSRF-Token": await login(client, name)}
        r = await client.post(f"/api/queues/{queue_id}/labels", headers=headers,
                              json={"snippet_id": snippet_id, "label": label, "key": key})
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_mid_load_loses_no_acknowledged_label(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        db = str(tmp_path / "crash.db")
    else:
        db = os.environ.get("NINES_TEST_POSTGRES_URL", "")
        if not db:
            pytest.skip("set NINES_TEST_POSTGRES_URL to run the crash test on PostgreSQL")
        reset_postgres(db)
    create_admin(db)
    port = _free_port()
    server = ServerProcess(db, port, tmp_path / "server.log").start()
    try:
        queue_id, names = asyncio.run(setup(server.base, LABELLERS, LABELLERS * PER_LABELLER))
        count = {"acked": 0}

        def on_ack() -> None:
            count["acked"] += 1
            if count["acked"] == KILL_AFTER:
                server.kill()  # mid-load: other labellers have requests in flight right now

        res = asyncio.run(run_load(server.base, names, queue_id, PER_LABELLER, on_ack=on_ack))
    finally:
        server.kill()
    assert count["acked"] >= KILL_AFTER and res.errors, "the server was not killed mid-load"
    assert not any(code >= 500 for code in res.statuses)

    snap = _snapshot(db)
    _check_consistent(snap)
    stored = {(s.username, s.idem_key): (s.snippet_id, s.label) for s in snap["subs"]}
    for name, key, sid, label in res.acked:
        assert stored.get((name, key)) == (sid, label), f"acknowledged label {key} was lost"
    assert len(stored) - len(res.acked) <= LABELLERS  # at most one committed-but-unanswered per labeller

    # Restart: a labeller re-sends its last request with the same key; it must not count twice.
    server = ServerProcess(db, port, tmp_path / "server2.log").start()
    try:
        name, key, sid, label = res.acked[-1]
        again = asyncio.run(_resend(server.base, name, queue_id, key, sid, label))
        assert again["duplicate"] is True
        more = asyncio.run(run_load(server.base, names[:2], queue_id, 3, tag="after"))
        assert len(more.acked) == 6 and not more.errors
    finally:
        server.stop()
    after = _snapshot(db)
    _check_consistent(after)
    assert len(after["subs"]) == len(snap["subs"]) + 6
    if backend == "postgres":
        reset_postgres(db)
