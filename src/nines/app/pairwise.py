"""Blind pairwise comparisons: two completions of one prompt, shown in random order.

The order each rater saw is drawn when the pair is handed out and kept in
``pair_assignments``; the rater answers ``left``, ``right`` or ``tie`` and the stored outcome
is relative to the task's ``first`` completion (1 first better, 0 second better, 0.5 tie),
which is the convention of :class:`nines.judge.recorded.RecordedJudge`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from nines.app import schema as t
from nines.app.accounts import User
from nines.app.db import Database, now, utc
from nines.app.errors import Conflict, NotFound

QUESTION = "Which is the better continuation (coherent, reasonable, fits the story)?"
CHOICES = ("left", "right", "tie")
#: Advisory-lock key space for handing out pairs (queues use their id, which stays far below).
PAIR_LOCK = 2_000_000_000


def add_tasks(conn: Connection, items: Iterable[dict[str, Any]], wanted: int) -> list[int]:
    """Store comparison tasks ``{"prompt", "first", "second", "meta"?}``; returns their ids."""
    stamp = now()
    rows = [{"prompt": it["prompt"], "first": it["first"], "second": it["second"], "meta": it.get("meta") or {},
             "wanted": wanted, "created_at": stamp} for it in items]
    if not rows:
        return []
    stmt = t.pair_tasks.insert().returning(t.pair_tasks.c.id, sort_by_parameter_order=True)
    return [int(r[0]) for r in conn.execute(stmt, rows)]


def _shown(task: Any, left_is_first: bool, assignment_id: int) -> dict[str, Any]:
    left, right = (task.first, task.second) if left_is_first else (task.second, task.first)
    return {"assignment_id": assignment_id, "question": QUESTION, "prompt": task.prompt, "left": left,
            "right": right}


def next_pair(db: Database, user: User) -> dict[str, Any] | None:
    """The pair this rater should compare next, or ``None`` when there is none left for them.

    The same pair comes back until it is answered; its left/right order is random per rater.
    """
    pt, pa, c = t.pair_tasks, t.pair_assignments, t.comparisons
    with db.write() as conn:
        db.serialize(conn, PAIR_LOCK)
        answered = sa.select(c.c.task_id).where(c.c.user_id == user.id)
        open_row = conn.execute(
            sa.select(pa.c.id, pa.c.left_is_first, pt).join(pt, pt.c.id == pa.c.task_id)
            .where(pa.c.user_id == user.id, pa.c.task_id.not_in(answered)).order_by(pa.c.id).limit(1)
        ).first()
        if open_row is not None:
            return _shown(open_row, open_row.left_is_first, open_row.id)
        done = sa.select(sa.func.count()).where(c.c.task_id == pt.c.id).scalar_subquery()
        mine = sa.select(pa.c.id).where(pa.c.task_id == pt.c.id, pa.c.user_id == user.id).exists()
        task = conn.execute(sa.select(pt).where(~mine, done < pt.c.wanted).order_by(pt.c.id).limit(1)).first()
        if task is None:
            return None
        left_is_first = secrets.randbelow(2) == 1  # the blind order: unpredictable, even by the rater
        aid = conn.execute(pa.insert().values(task_id=task.id, user_id=user.id, left_is_first=left_is_first,
                                              assigned_at=now()).returning(pa.c.id)).scalar_one()
        return _shown(task, left_is_first, int(aid))


def outcome_for(choice: str, left_is_first: bool) -> float:
    """The outcome relative to ``first``: 1 first better, 0 second better, 0.5 tie."""
    if choice == "tie":
        return 0.5
    return 1.0 if (choice == "left") == left_is_first else 0.0


def answer(db: Database, user: User, assignment_id: int, choice: str, key: str) -> dict[str, Any]:
    """Record a rater's answer once per idempotency key.

    Raises:
        NotFound: no such assignment for this rater (another rater's counts as none).
        Conflict: the pair was already answered with another key, or the key was used before.
    """
    pa, c = t.pair_assignments, t.comparisons
    with db.write() as conn:
        old = conn.execute(sa.select(c).where(c.c.user_id == user.id, c.c.idem_key == key)).first()
        asg = conn.execute(sa.select(pa).where(pa.c.id == assignment_id, pa.c.user_id == user.id)).first()
        if asg is None:
            raise NotFound(f"you have no pair to compare with assignment id {assignment_id}")
        if old is not None:
            if old.task_id != asg.task_id or old.choice != choice:
                raise Conflict("this idempotency key was already used for a different answer; send a new key")
            return {"comparison_id": old.id, "outcome": old.outcome, "duplicate": True}
        if conn.execute(sa.select(c.c.id).where(c.c.task_id == asg.task_id, c.c.user_id == user.id)).first():
            raise Conflict("you already compared this pair")
        outcome = outcome_for(choice, asg.left_is_first)
        cid = conn.execute(c.insert().values(task_id=asg.task_id, user_id=user.id, choice=choice, outcome=outcome,
                                             idem_key=key, created_at=now()).returning(c.c.id)).scalar_one()
    return {"comparison_id": int(cid), "outcome": outcome, "duplicate": False}


def comparison_rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every comparison as a :class:`~nines.judge.recorded.RecordedJudge` row (plus provenance)."""
    pt, c, u = t.pair_tasks, t.comparisons, t.users
    stmt = (sa.select(c.c.id, c.c.outcome, c.c.created_at, pt.c.id.label("task_id"), pt.c.prompt, pt.c.first,
                      pt.c.second, pt.c.meta, u.c.username)
            .join(pt, pt.c.id == c.c.task_id).join(u, u.c.id == c.c.user_id).order_by(c.c.id))
    for r in conn.execute(stmt):
        yield {"prompt": r.prompt, "first": r.first, "second": r.second, "outcome": r.outcome,
               "rater": r.username, "task_id": r.task_id, "meta": r.meta or {},
               "created_at": utc(r.created_at).isoformat()}


def export_jsonl(conn: Connection) -> Iterator[str]:
    """The comparisons as JSONL lines a ``RecordedJudge`` reads directly."""
    for row in comparison_rows(conn):
        yield json.dumps(row, ensure_ascii=False) + "\n"


def counts(conn: Connection) -> dict[str, int]:
    """How many tasks and comparisons there are, and how many comparisons were ties."""
    pt, c = t.pair_tasks, t.comparisons
    return {
        "tasks": int(conn.execute(sa.select(sa.func.count()).select_from(pt)).scalar_one()),
        "comparisons": int(conn.execute(sa.select(sa.func.count()).select_from(c)).scalar_one()),
        "ties": int(conn.execute(sa.select(sa.func.count()).where(c.c.outcome == 0.5)).scalar_one()),
    }


def first_win_rate(conn: Connection) -> dict[str, Any] | None:
    """Share of comparisons won by ``first`` (ties half), with a Wilson-free normal interval.

    ``first`` is whatever the admin uploaded first, typically the filtered policy's completion
    against the unfiltered one, so this is the win rate the estimators in
    :mod:`nines.stats.winrate` compute from judge outcomes.
    """
    outcomes = [float(x) for x in conn.execute(sa.select(t.comparisons.c.outcome)).scalars()]
    if not outcomes:
        return None
    from nines.stats.winrate import winrate_from_outcomes

    est = winrate_from_outcomes(outcomes)
    return {"n": len(outcomes), "estimate": float(est.estimate), "lower": float(est.lower),
            "upper": float(est.upper)}
