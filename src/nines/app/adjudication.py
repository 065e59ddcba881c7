"""The snippet's stored label from its labels, and the admin's adjudication of ties.

Every label stays in the store's ``labels`` history; ``snippets.label`` is what they add up to
under :func:`nines.app.agreement.consensus`: the most common label, or on a tie the admin's
adjudication (``adjudications``, one per snippet), or nothing until the admin decides. Never
the last writer's.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from nines.app import schema as t
from nines.app.accounts import User
from nines.app.agreement import Consensus, consensus
from nines.app.db import Database, now
from nines.app.errors import Conflict, NotFound
from nines.data.store import Store


def lock_snippet(conn: Connection, snippet_id: int) -> None:
    """Lock the snippet's row until commit (PostgreSQL; SQLite writers are serialised anyway).

    Two labellers labelling one item at once would otherwise each compute the stored label
    without seeing the other's uncommitted label. ``FOR NO KEY UPDATE``, not ``FOR UPDATE``:
    inserting a row that references the snippet (an assignment, in ``labelling.next_item`` under the
    queue's lock) takes a key-share lock on it, which ``FOR UPDATE`` would block, and a
    submitter holding the snippet while waiting for the queue's lock would then deadlock.
    """
    s = t.snippets_table
    conn.execute(sa.select(s.c.id).where(s.c.id == snippet_id).with_for_update(key_share=True))


def _adjudication(conn: Connection, snippet_id: int) -> Any:
    j = t.adjudications
    return conn.execute(sa.select(j.c.label, j.c.admin).where(j.c.snippet_id == snippet_id)).first()


def _decide(conn: Connection, snippet_id: int) -> tuple[Consensus, str | None]:
    """The consensus of the snippet's labels and who the stored label is credited to."""
    lt = t.labels_table
    rows = conn.execute(sa.select(lt.c.label, lt.c.labeller).where(lt.c.snippet_id == snippet_id)
                        .order_by(lt.c.id)).all()
    adj = _adjudication(conn, snippet_id)
    decided = consensus([r.label for r in rows], adj.label if adj is not None else None)
    if decided.rule == "majority":
        # Credited to the latest labeller who gave the winning label.
        return decided, [r.labeller for r in rows if r.label == decided.label][-1]
    if decided.rule == "adjudicated":
        return decided, f"adjudicated by {adj.admin}"
    return decided, None


def set_consensus(store: Store, conn: Connection, snippet_id: int) -> Consensus:
    """Store the label the snippet's labels add up to (see the module docstring) in ``conn``; returns it."""
    decided, labeller = _decide(conn, snippet_id)
    store.set_current_label(snippet_id, decided.label, labeller, conn=conn)
    return decided


def adjudicate(db: Database, admin: User, snippet_id: int, label: str, note: str | None) -> dict[str, Any]:
    """Settle a tie: the snippet gets ``label`` for as long as its labels stay tied.

    Deciding again replaces the earlier decision.

    Raises:
        NotFound: no snippet has this id.
        Conflict: the snippet's labels do not tie (no labels, or a majority already decides).
    """
    j = t.adjudications
    with db.write() as conn:
        if conn.execute(sa.select(t.snippets_table.c.id).where(t.snippets_table.c.id == snippet_id)).first() is None:
            raise NotFound(f"no snippet with id {snippet_id}")
        lock_snippet(conn, snippet_id)
        current, _ = _decide(conn, snippet_id)
        if current.rule == "none":
            raise Conflict(f"snippet {snippet_id} has no labels yet; there is nothing to adjudicate")
        if current.rule == "majority":
            raise Conflict(f"snippet {snippet_id} has a majority label ({current.label}, counts {current.counts}); "
                           "adjudication settles ties only")
        values = {"label": label, "admin_id": admin.id, "admin": admin.username, "note": note, "created_at": now()}
        if _adjudication(conn, snippet_id) is None:
            conn.execute(j.insert().values(snippet_id=snippet_id, **values))
        else:
            conn.execute(j.update().where(j.c.snippet_id == snippet_id).values(**values))
        decided = set_consensus(db.store, conn, snippet_id)
    return {"snippet_id": snippet_id, "label": decided.label, "rule": decided.rule, "counts": decided.counts}


def awaiting(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Snippets whose labels tie with no adjudication (so they have no stored label), oldest first."""
    s, lt = t.snippets_table, t.labels_table
    labelled = sa.select(lt.c.id).where(lt.c.snippet_id == s.c.id).exists()
    rows = conn.execute(sa.select(s.c.id, s.c.prompt, s.c.completion).where(s.c.label.is_(None), labelled)
                        .order_by(s.c.id).limit(limit)).all()
    if not rows:
        return []
    by_item: dict[int, list[tuple[str | None, str]]] = {r.id: [] for r in rows}
    for r in conn.execute(sa.select(lt.c.snippet_id, lt.c.labeller, lt.c.label)
                          .where(lt.c.snippet_id.in_(list(by_item))).order_by(lt.c.id)):
        by_item[r.snippet_id].append((r.labeller, r.label))
    out = []
    for r in rows:
        labels = by_item[r.id]
        decided = consensus([lab for _, lab in labels], _label_or_none(_adjudication(conn, r.id)))
        if decided.rule == "tie":
            out.append({"snippet_id": r.id, "prompt": r.prompt, "completion": r.completion,
                        "counts": decided.counts, "labels": [{"labeller": n, "label": lab} for n, lab in labels]})
    return out


def _label_or_none(row: Any) -> str | None:
    return None if row is None else str(row.label)
