"""Labelling queues: hand out items, record labels idempotently, undo, and agreement.

A label is written in one transaction with its ``submissions`` row: the row in the store's
``labels`` history, the snippet's stored label (:mod:`nines.app.adjudication`: majority, or the
admin's adjudication on a tie) and the submission either all commit or none do. The store's
tables are written only through :class:`nines.data.store.Store`, given this transaction's
connection.
``(user_id, idem_key)`` is unique, so a retried request finds the first submission instead of
adding a second label.

A label is accepted only for an item the queue handed to this labeller (their live hold), or
for an item still under the queue's labels-per-item limit that nobody else holds: no labeller
can overwrite or outvote another by sending any item id of the queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from nines.app import schema as t
from nines.app.accounts import User
from nines.app.adjudication import lock_snippet, set_consensus
from nines.app.agreement import agreement
from nines.app.db import Database, now, utc
from nines.app.errors import Conflict, NotFound, Unprocessable

#: Queue strategies. ``random`` and ``sequential`` need nothing; the others rank by the
#: classifier's scores through :func:`nines.active.strategies.select`.
QUEUE_STRATEGIES: tuple[str, ...] = ("random", "sequential", "uncertainty", "redwood")


def queue_row(conn: Connection, queue_id: int) -> Any:
    """The queue's row.

    Raises:
        NotFound: no queue has this id.
    """
    row = conn.execute(sa.select(t.queues).where(t.queues.c.id == queue_id)).first()
    if row is None:
        raise NotFound(f"no labelling queue with id {queue_id}")
    return row


def list_queues(conn: Connection, active_only: bool = True) -> list[dict[str, Any]]:
    """Queues with their size and how many labels they hold."""
    q, qi, s = t.queues, t.queue_items, t.submissions
    size = sa.select(sa.func.count()).where(qi.c.queue_id == q.c.id).scalar_subquery()
    done = sa.select(sa.func.count()).where(s.c.queue_id == q.c.id, s.c.undone_at.is_(None)).scalar_subquery()
    stmt = sa.select(q, size.label("size"), done.label("labels")).order_by(q.c.id)
    if active_only:
        stmt = stmt.where(q.c.active.is_(True))
    return [{"id": r.id, "name": r.name, "dataset": r.dataset, "strategy": r.strategy,
             "labels_per_item": r.labels_per_item, "active": r.active, "size": r.size, "labels": r.labels}
            for r in conn.execute(stmt)]


def priorities(strategy: str, n: int, scores: np.ndarray | None, threshold: float | None,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pool indices, priority)`` to enqueue, best (lowest priority) first.

    Raises:
        Unprocessable: an unknown strategy, or a classifier strategy without scores.
    """
    if strategy == "sequential":
        return np.arange(n), np.arange(n, dtype=float)
    if strategy == "random":
        return np.arange(n), np.random.default_rng(seed).random(n)
    if strategy not in QUEUE_STRATEGIES:
        raise Unprocessable(f"unknown strategy {strategy!r}; choose one of {', '.join(QUEUE_STRATEGIES)}")
    if scores is None:
        raise Unprocessable(f"the {strategy} strategy ranks items by classifier score: start the app with "
                            "--classifier DIR, or use the random strategy")
    from nines.active.strategies import select

    order = select(strategy, scores, n, threshold=threshold, seed=seed)
    return order, np.arange(len(order), dtype=float)


def dataset_members(conn: Connection, dataset: str) -> list[Any]:
    """``(id, prompt, completion)`` rows of a dataset's snippets, in id order.

    Raises:
        NotFound: no dataset has this name.
    """
    d, ds, s = t.datasets_table, t.dataset_snippets_table, t.snippets_table
    did = conn.execute(sa.select(d.c.id).where(d.c.name == dataset)).scalar()
    if did is None:
        raise NotFound(f"no dataset named {dataset!r}")
    return list(conn.execute(
        sa.select(s.c.id, s.c.prompt, s.c.completion).join(ds, ds.c.snippet_id == s.c.id)
        .where(ds.c.dataset_id == did).order_by(s.c.id)
    ))


def create_queue(conn: Connection, name: str, dataset: str, strategy: str, labels_per_item: int,
                 snippet_ids: Sequence[int], order: np.ndarray, prio: np.ndarray) -> int:
    """Insert a queue and its items (``snippet_ids[order[i]]`` gets ``prio[i]``).

    Raises:
        Conflict: the name is taken.
    """
    if conn.execute(sa.select(t.queues.c.id).where(t.queues.c.name == name)).first() is not None:
        raise Conflict(f"a queue named {name!r} exists already")
    qid = int(conn.execute(t.queues.insert().values(
        name=name, dataset=dataset, strategy=strategy, labels_per_item=labels_per_item, active=True,
        created_at=now()).returning(t.queues.c.id)).scalar_one())
    rows = [{"queue_id": qid, "snippet_id": int(snippet_ids[int(i)]), "priority": float(p)}
            for i, p in zip(order, prio)]
    if rows:
        conn.execute(t.queue_items.insert(), rows)
    return qid


def _item(conn: Connection, queue_id: int, snippet_id: int) -> dict[str, Any]:
    s = t.snippets_table
    row = conn.execute(sa.select(s.c.id, s.c.prompt, s.c.completion).where(s.c.id == snippet_id)).one()
    return {"queue_id": queue_id, "snippet_id": row.id, "prompt": row.prompt, "completion": row.completion}


def _held(conn: Connection, queue_id: int, user_id: int) -> int | None:
    a = t.assignments
    return conn.execute(
        sa.select(a.c.snippet_id).where(a.c.queue_id == queue_id, a.c.user_id == user_id, a.c.expires_at > now())
        .order_by(a.c.id).limit(1)
    ).scalar()


def _pick(conn: Connection, queue_id: int, user_id: int, wanted: int) -> int | None:
    qi, s, a = t.queue_items, t.submissions, t.assignments
    live = sa.select(sa.func.count()).where(
        s.c.queue_id == queue_id, s.c.snippet_id == qi.c.snippet_id, s.c.undone_at.is_(None)).scalar_subquery()
    held = sa.select(sa.func.count()).where(
        a.c.queue_id == queue_id, a.c.snippet_id == qi.c.snippet_id, a.c.user_id != user_id).scalar_subquery()
    mine = sa.select(s.c.id).where(s.c.queue_id == queue_id, s.c.snippet_id == qi.c.snippet_id,
                                   s.c.user_id == user_id, s.c.undone_at.is_(None)).exists()
    return conn.execute(
        sa.select(qi.c.snippet_id).where(qi.c.queue_id == queue_id, ~mine, live + held < wanted)
        .order_by(qi.c.priority, qi.c.snippet_id).limit(1)
    ).scalar()


def next_item(db: Database, queue_id: int, user: User, lease_minutes: float) -> dict[str, Any] | None:
    """The item this labeller should label next in a queue, held for them for ``lease_minutes``.

    The same item comes back until it is labelled (a refresh does not skip it). ``None`` when
    every item has the labels it wants or this labeller labelled all the rest.

    Raises:
        NotFound: no such queue.
        Conflict: the queue is closed.
    """
    with db.write() as conn:
        db.serialize(conn, queue_id)
        row = queue_row(conn, queue_id)
        if not row.active:
            raise Conflict(f"the queue {row.name!r} is closed")
        held = _held(conn, queue_id, user.id)
        if held is not None:
            return _item(conn, queue_id, held)
        a = t.assignments
        conn.execute(a.delete().where(a.c.queue_id == queue_id, a.c.expires_at <= now()))
        picked = _pick(conn, queue_id, user.id, row.labels_per_item)
        if picked is None:
            return None
        conn.execute(a.insert().values(queue_id=queue_id, snippet_id=picked, user_id=user.id, assigned_at=now(),
                                       expires_at=now() + timedelta(minutes=lease_minutes)))
        return _item(conn, queue_id, picked)


def _existing(conn: Connection, user_id: int, key: str) -> Any:
    s = t.submissions
    return conn.execute(sa.select(s).where(s.c.user_id == user_id, s.c.idem_key == key)).first()


def _admit(conn: Connection, db: Database, queue: Any, user: User, snippet_id: int) -> None:
    """Refuse a label this labeller may not give now; on return the label may be stored.

    Taking the labeller's own live hold (deleting it) admits the label: the slot was counted
    for them when the item was handed out, and deleting the row makes two requests racing for
    one hold see it once. Without a hold, the item must be under its limit counting live labels
    and other labellers' live holds, checked under the queue's lock that :func:`next_item`
    takes, so that racing labellers cannot all take the last slot.

    Raises:
        Conflict: the labeller already labelled the item, the item is held for someone else,
            or it has all the labels it wants.
    """
    s, a = t.submissions, t.assignments
    mine = sa.select(s.c.id).where(s.c.queue_id == queue.id, s.c.snippet_id == snippet_id,
                                   s.c.user_id == user.id, s.c.undone_at.is_(None))
    if conn.execute(mine).first():
        raise Conflict(f"you already labelled item {snippet_id} in this queue; undo that label to change it")
    stamp = now()
    claimed = conn.execute(a.delete().where(a.c.queue_id == queue.id, a.c.snippet_id == snippet_id,
                                            a.c.user_id == user.id, a.c.expires_at > stamp)).rowcount
    if claimed:
        return
    db.serialize(conn, queue.id)
    live = sa.select(sa.func.count()).where(s.c.queue_id == queue.id, s.c.snippet_id == snippet_id,
                                            s.c.undone_at.is_(None)).scalar_subquery()
    held = sa.select(sa.func.count()).where(a.c.queue_id == queue.id, a.c.snippet_id == snippet_id,
                                            a.c.user_id != user.id, a.c.expires_at > stamp).scalar_subquery()
    # One statement, so both counts come from one snapshot (PostgreSQL's READ COMMITTED).
    n_live, n_held = conn.execute(sa.select(live, held)).one()
    if n_live >= queue.labels_per_item:
        raise Conflict(f"item {snippet_id} already has {_labels(n_live)}, all this queue asks for; "
                       "ask the queue for your next item")
    if n_live + n_held >= queue.labels_per_item:
        raise Conflict(f"item {snippet_id} is being labelled by another labeller; ask the queue for your next item")


def _labels(n: int) -> str:
    return "1 label" if n == 1 else f"{n} labels"


def submit(db: Database, queue_id: int, user: User, snippet_id: int, label: str, note: str | None,
           key: str) -> dict[str, Any]:
    """Record a label once per idempotency key.

    Returns:
        ``{"submission_id", "snippet_id", "label", "duplicate"}``; ``duplicate`` is true when
        this key was seen before and nothing new was stored.

    Raises:
        NotFound: no such queue, or the item is not in it.
        Conflict: the queue is closed; the key was used for a different label or item; the
            item already has this labeller's label (undo it first); the item is held for
            another labeller or has all its labels (see :func:`_admit`).
    """
    with db.write() as conn:
        old = _existing(conn, user.id, key)
        if old is not None:
            return _replay(old, queue_id, snippet_id, label)
        row = queue_row(conn, queue_id)
        if not row.active:
            raise Conflict(f"the queue {row.name!r} is closed")
        qi, s = t.queue_items, t.submissions
        if conn.execute(sa.select(qi.c.snippet_id).where(qi.c.queue_id == queue_id, qi.c.snippet_id == snippet_id)
                        ).first() is None:
            raise NotFound(f"item {snippet_id} is not in queue {queue_id}")
        # The snippet lock comes first, as in undo and adjudication, so the locks are always
        # taken in one order (snippet, then hold or queue) and cannot deadlock.
        lock_snippet(conn, snippet_id)
        _admit(conn, db, row, user, snippet_id)
        label_id = db.store.record_label(snippet_id, label, user.username, note, conn=conn)
        sub_id = conn.execute(s.insert().values(
            queue_id=queue_id, snippet_id=snippet_id, user_id=user.id, label_id=label_id, label=label, note=note,
            idem_key=key, created_at=now()).returning(s.c.id)).scalar_one()
        set_consensus(db.store, conn, snippet_id)
    return {"submission_id": int(sub_id), "snippet_id": snippet_id, "label": label, "duplicate": False}


def _replay(old: Any, queue_id: int, snippet_id: int, label: str) -> dict[str, Any]:
    if (old.queue_id, old.snippet_id, old.label) != (queue_id, snippet_id, label):
        raise Conflict("this idempotency key was already used for a different label; send a new key")
    return {"submission_id": old.id, "snippet_id": old.snippet_id, "label": old.label, "duplicate": True}


def replay_after_race(db: Database, queue_id: int, user: User, snippet_id: int, label: str,
                      key: str) -> dict[str, Any] | None:
    """After a unique-constraint race (PostgreSQL), the submission the other request stored."""
    with db.read() as conn:
        old = _existing(conn, user.id, key)
    return None if old is None else _replay(old, queue_id, snippet_id, label)


def undo(db: Database, queue_id: int, user: User, lease_minutes: float) -> dict[str, Any]:
    """Withdraw this labeller's latest live label in a queue and hand the item back to them.

    The row leaves the label history, the snippet's current label is recomputed, and the
    submission is kept (marked undone) so a retry of the original request stays a no-op.

    Raises:
        NotFound: no such queue, or nothing to undo.
        Conflict: the queue is closed (its labels are final).
    """
    s, a = t.submissions, t.assignments
    with db.write() as conn:
        row = queue_row(conn, queue_id)
        if not row.active:
            raise Conflict(f"the queue {row.name!r} is closed; its labels can no longer be undone")
        last = conn.execute(sa.select(s).where(s.c.queue_id == queue_id, s.c.user_id == user.id,
                                               s.c.undone_at.is_(None)).order_by(s.c.id.desc()).limit(1)).first()
        if last is None:
            raise NotFound("you have no label in this queue to undo")
        lock_snippet(conn, last.snippet_id)
        conn.execute(s.update().where(s.c.id == last.id).values(undone_at=now(), label_id=None))
        if last.label_id is not None:
            db.store.remove_label(last.label_id, conn=conn)
        set_consensus(db.store, conn, last.snippet_id)
        # The undone item goes back to the front: it is what the labeller wants to redo.
        conn.execute(a.delete().where(a.c.user_id == user.id, a.c.queue_id == queue_id))
        conn.execute(a.insert().values(queue_id=queue_id, snippet_id=last.snippet_id, user_id=user.id,
                                       assigned_at=now(), expires_at=now() + timedelta(minutes=lease_minutes)))
        item = _item(conn, queue_id, last.snippet_id)
    return {"undone": last.id, "label": last.label, "item": item}


def my_labels(conn: Connection, user_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """A labeller's own live labels, newest first."""
    s, sn = t.submissions, t.snippets_table
    rows = conn.execute(
        sa.select(s.c.id, s.c.queue_id, s.c.snippet_id, s.c.label, s.c.note, s.c.created_at, sn.c.prompt,
                  sn.c.completion).join(sn, sn.c.id == s.c.snippet_id)
        .where(s.c.user_id == user_id, s.c.undone_at.is_(None)).order_by(s.c.id.desc()).limit(limit))
    return [{"submission_id": r.id, "queue_id": r.queue_id, "snippet_id": r.snippet_id, "label": r.label,
             "note": r.note, "created_at": utc(r.created_at).isoformat(), "prompt": r.prompt,
             "completion": r.completion} for r in rows]


def queue_agreement(conn: Connection, queue_id: int, max_disagreements: int = 50) -> dict[str, Any]:
    """Agreement in a queue, and the items labellers disagree on (for the admin)."""
    queue_row(conn, queue_id)
    s, u = t.submissions, t.users
    rows = conn.execute(sa.select(s.c.snippet_id, s.c.label, u.c.username).join(u, u.c.id == s.c.user_id)
                        .where(s.c.queue_id == queue_id, s.c.undone_at.is_(None)).order_by(s.c.id))
    by_item: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for r in rows:
        by_item[r.snippet_id].append((r.username, r.label))
    summary = agreement({k: [lab for _, lab in v] for k, v in by_item.items()})
    split = [k for k, v in by_item.items() if len({lab for _, lab in v}) > 1][:max_disagreements]
    texts = _texts(conn, split)
    disagreements = [{"snippet_id": k, **texts[k], "labels": [{"labeller": n, "label": lab} for n, lab in by_item[k]]}
                     for k in split]
    return {"queue_id": queue_id, **summary.to_dict(), "disagreements": disagreements}


def _texts(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    if not ids:
        return {}
    sn = t.snippets_table
    rows = conn.execute(sa.select(sn.c.id, sn.c.prompt, sn.c.completion).where(sn.c.id.in_(list(ids))))
    return {r.id: {"prompt": r.prompt, "completion": r.completion} for r in rows}
