"""Labellers' and raters' API: queues, next item, label, undo, own labels; pairwise comparisons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from nines.app import instructions, labelling, pairwise
from nines.app.auth import AnyUser, LabellerUser, RaterUser, ctx
from nines.app.errors import Conflict
from nines.app.models import AnswerBody, LabelBody, PathId
from nines.app.task_labels import stored_label

router = APIRouter(tags=["work"], responses={401: {}, 403: {}})


@router.get("/api/instructions")
def get_instructions(request: Request, _: AnyUser) -> dict[str, Any]:
    """The labelling instructions: Markdown source and safe HTML, and the task they are for."""
    context = ctx(request)
    with context.db.read() as conn:
        current = instructions.current(conn, context.settings.default_instructions())
    return {**current, "task": context.settings.task_info()}


@router.get("/api/task")
def get_task(request: Request, _: AnyUser) -> dict[str, Any]:
    """The task labellers judge: its name, label names (and the values they are stored as), predicate."""
    return ctx(request).settings.task_info()


@router.get("/api/queues")
def queues(request: Request, _: LabellerUser) -> list[dict[str, Any]]:
    """Open labelling queues."""
    with ctx(request).db.read() as conn:
        return labelling.list_queues(conn)


@router.get("/api/queues/{queue_id}/next", responses={404: {}, 409: {}})
def next_item(request: Request, queue_id: PathId, user: LabellerUser) -> dict[str, Any]:
    """The item to label next (``item`` is null when the queue has nothing left for you)."""
    context = ctx(request)
    item = labelling.next_item(context.db, queue_id, user, context.settings.lease_minutes)
    return {"item": item}


@router.post("/api/queues/{queue_id}/labels", status_code=201, responses={404: {}, 409: {}, 422: {}})
def label(body: LabelBody, request: Request, queue_id: PathId, user: LabellerUser
          ) -> dict[str, Any]:
    """Label an item the queue gave you (or one under its limit that nobody holds); 409 otherwise.

    ``key`` makes it idempotent: sending the same key again stores nothing new. ``label`` is
    ``injurious``/``safe``/``unsure`` or the task's own names (``unsafe`` for safetext); the
    answer gives the stored value.
    """
    context = ctx(request)
    db = context.db
    value = stored_label(context.settings.task_config, body.label)
    try:
        return labelling.submit(db, queue_id, user, body.snippet_id, value, body.note, body.key)
    except IntegrityError:
        # Two requests with one key raced past the check (PostgreSQL); the constraint kept one.
        replay = labelling.replay_after_race(db, queue_id, user, body.snippet_id, value, body.key)
        if replay is None:
            raise Conflict("you already labelled this item in this queue; undo that label to change it") from None
        return replay


@router.post("/api/queues/{queue_id}/undo", responses={404: {}, 409: {}})
def undo(request: Request, queue_id: PathId, user: LabellerUser) -> dict[str, Any]:
    """Withdraw your latest label in this queue; the item comes back to you (not once the queue is closed)."""
    context = ctx(request)
    return labelling.undo(context.db, queue_id, user, context.settings.lease_minutes)


@router.get("/api/my/labels")
def my_labels(request: Request, user: LabellerUser) -> list[dict[str, Any]]:
    """Your own labels, newest first."""
    with ctx(request).db.read() as conn:
        return labelling.my_labels(conn, user.id)


@router.get("/api/pairs/next")
def next_pair(request: Request, user: RaterUser) -> dict[str, Any]:
    """The next blind pair to compare (``pair`` is null when there is none left for you)."""
    return {"pair": pairwise.next_pair(ctx(request).db, user)}


@router.post("/api/pairs/{assignment_id}/answer", status_code=201, responses={404: {}, 409: {}, 422: {}})
def answer(body: AnswerBody, request: Request, assignment_id: PathId,
           user: RaterUser) -> dict[str, Any]:
    """Answer ``left``, ``right`` or ``tie``; idempotent per ``key``."""
    db = ctx(request).db
    try:
        return pairwise.answer(db, user, assignment_id, body.choice, body.key)
    except IntegrityError:
        return pairwise.answer(db, user, assignment_id, body.choice, body.key)  # now it finds the stored one
