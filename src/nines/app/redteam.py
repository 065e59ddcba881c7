"""Red-team finds: positive (``injurious`` for the injury task), yet accepted snippets, their review, and their
way into the training data.

A confirmed find becomes a snippet with source ``adversarial`` and the positive label (stored
``injurious`` whatever the task calls it) in a dataset bound to the served task, in the
store, written by :meth:`nines.data.store.Store.add` in the same transaction that marks the find
confirmed, so a find is never confirmed without its snippet or stored twice.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from nines.app import schema as t
from nines.app.accounts import User
from nines.app.db import Database, now, utc
from nines.app.errors import Conflict, NotFound
from nines.data.record import Label, Snippet
from nines.data.store import TaskMismatch


def _public(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "prompt": r.prompt, "completion": r.completion, "score": r.score, "threshold": r.threshold,
        "note": r.note, "seconds": r.seconds, "status": r.status, "created_at": utc(r.created_at).isoformat(),
        "review_note": r.review_note, "snippet_id": r.snippet_id,
    }


def submit_find(db: Database, user: User, prompt: str, completion: str, score: float, threshold: float,
                note: str | None, seconds: float, key: str) -> dict[str, Any]:
    """Record a find once per idempotency key; the score is the server's, not the client's.

    Raises:
        Conflict: the key was already used for a different snippet.
    """
    f = t.finds
    with db.write() as conn:
        old = conn.execute(sa.select(f).where(f.c.user_id == user.id, f.c.idem_key == key)).first()
        if old is not None:
            if (old.prompt, old.completion) != (prompt, completion):
                raise Conflict("this idempotency key was already used for a different find; send a new key")
            return {**_public(old), "duplicate": True}
        fid = conn.execute(f.insert().values(
            user_id=user.id, prompt=prompt, completion=completion, score=score, threshold=threshold, note=note,
            seconds=seconds, idem_key=key, created_at=now(), status="pending").returning(f.c.id)).scalar_one()
        row = conn.execute(sa.select(f).where(f.c.id == fid)).one()
    return {**_public(row), "duplicate": False}


def my_finds(conn: Connection, user_id: int) -> dict[str, Any]:
    """A red-teamer's finds, newest first, with how long each took and totals."""
    f = t.finds
    rows = [_public(r) for r in conn.execute(sa.select(f).where(f.c.user_id == user_id).order_by(f.c.id.desc()))]
    confirmed = [r for r in rows if r["status"] == "confirmed"]
    total = sum(r["seconds"] for r in rows)
    return {"finds": rows, "count": len(rows), "confirmed": len(confirmed), "seconds_total": total,
            "seconds_per_confirmed": total / len(confirmed) if confirmed else None}


def get_find(conn: Connection, user: User, find_id: int) -> dict[str, Any]:
    """One find: its owner and admins may see it, anybody else gets 404 (not even that it exists)."""
    f = t.finds
    row = conn.execute(sa.select(f).where(f.c.id == find_id)).first()
    if row is None or (row.user_id != user.id and not user.has("admin")):
        raise NotFound(f"no find with id {find_id}")
    return _public(row)


def review_queue(conn: Connection, status: str = "pending", limit: int = 200) -> list[dict[str, Any]]:
    """Finds with a status, oldest first, with who found them."""
    f, u = t.finds, t.users
    rows = conn.execute(sa.select(f, u.c.username).join(u, u.c.id == f.c.user_id)
                        .where(f.c.status == status).order_by(f.c.id).limit(limit))
    return [{**_public(r), "redteamer": r.username} for r in rows]


def recent(conn: Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The newest finds of any status, for the dashboard."""
    f, u = t.finds, t.users
    rows = conn.execute(sa.select(f, u.c.username).join(u, u.c.id == f.c.user_id).order_by(f.c.id.desc())
                        .limit(limit))
    return [{**_public(r), "redteamer": r.username} for r in rows]


def _add_snippet(db: Database, conn: Connection, find: Any, reviewer: User, redteamer: str, dataset: str,
                 task: str | None) -> int:
    """Store the confirmed find as an adversarial, positive snippet (with its label history row) in ``conn``."""
    meta = {"find_id": find.id, "redteamer": redteamer, "score": find.score, "threshold": find.threshold,
            "seconds": find.seconds, "reviewer": reviewer.username}
    snippet = Snippet(find.prompt, find.completion, label=Label.INJURIOUS, source="adversarial",
                      labeller=reviewer.username, split="train", metadata=meta)
    db.store.create_dataset(dataset, description="confirmed red-team finds", conn=conn)
    if task is not None:
        try:
            db.store.bind_dataset_task(dataset, task, conn=conn)
        except TaskMismatch as e:
            raise Conflict(f"{e} (this app serves task={task})") from None
    (sid,) = db.store.add([snippet], dataset=dataset, note=f"red-team find {find.id} by {redteamer}, confirmed",
                          conn=conn)
    return sid


def review(db: Database, reviewer: User, find_id: int, decision: str, note: str | None,
           dataset: str, task: str | None = None) -> dict[str, Any]:
    """Confirm or reject a pending find; a confirmed one enters the store as training data.

    Args:
        task: the served task's name; the finds' dataset is bound to it (``None``: not recorded).

    Raises:
        NotFound: no such find.
        Conflict: it was already reviewed, or ``dataset`` is labelled for another task.
    """
    f, u = t.finds, t.users
    with db.write() as conn:
        row = conn.execute(sa.select(f, u.c.username).join(u, u.c.id == f.c.user_id).where(f.c.id == find_id)
                           ).first()
        if row is None:
            raise NotFound(f"no find with id {find_id}")
        if row.status != "pending":
            raise Conflict(f"find {find_id} was already reviewed ({row.status})")
        status = "confirmed" if decision == "confirm" else "rejected"
        snippet_id = _add_snippet(db, conn, row, reviewer, row.username, dataset, task) if status == "confirmed" else None
        # The status condition makes a concurrent second review update nothing instead of twice.
        done = conn.execute(f.update().where(f.c.id == find_id, f.c.status == "pending").values(
            status=status, reviewer_id=reviewer.id, reviewed_at=now(), review_note=note, snippet_id=snippet_id))
        if done.rowcount != 1:
            raise Conflict(f"find {find_id} was reviewed by someone else just now")
        out = conn.execute(sa.select(f).where(f.c.id == find_id)).one()
    return _public(out)
