"""``/api/admin``: accounts, invites, instructions, data, queues, pairs, find review, dashboard, exports."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import numpy as np
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from nines.app import accounts, adjudication, dashboard, exports, instructions, labelling, pairwise, redteam
from nines.app import schema as t
from nines.app.auth import AdminUser, ctx
from nines.app.errors import NotFound, Unprocessable
from nines.app.models import (
    AdjudicationBody,
    InstructionsBody,
    InviteBody,
    PairsBody,
    PathId,
    QueueBody,
    QueuePatch,
    ReviewBody,
    SnippetsBody,
    Strict,
    UserBody,
    Username,
    UserPatch,
)
from nines.app.task_labels import bind_dataset, stored_label
from nines.data.record import Snippet

router = APIRouter(prefix="/api/admin", tags=["admin"], responses={401: {}, 403: {}})


class UnlockBody(Strict):
    username: Username | None = None
    ip: Username | None = None  # the same limits as the login_failures.ip column: 1-64 storable characters

DatasetQuery = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]
#: ``names=task`` writes labels under the served task's names (``unsafe``/``safe``); ``stored`` (default) as stored.
NamesQuery = Annotated[Literal["stored", "task"], Query()]


@router.get("/users")
def list_users(request: Request, _: AdminUser) -> list[dict[str, Any]]:
    """Every account."""
    with ctx(request).db.read() as conn:
        return accounts.list_users(conn)


@router.post("/users", status_code=201, responses={409: {}, 422: {}})
def create_user(body: UserBody, request: Request, _: AdminUser) -> dict[str, Any]:
    """Create an account with a password and roles."""
    context = ctx(request)
    with context.db.write() as conn:
        return accounts.create_user(conn, context.passwords, body.username, body.password, list(body.roles)).public()


@router.patch("/users/{user_id}", responses={404: {}, 422: {}})
def update_user(body: UserPatch, request: Request, user_id: PathId,
                _: AdminUser) -> dict[str, bool]:
    """Change roles, deactivate (ends their sessions) or reset a password."""
    context = ctx(request)
    roles = [str(r) for r in body.roles] if body.roles is not None else None
    with context.db.write() as conn:
        accounts.update_user(conn, context.passwords, user_id, roles, body.active, body.password)
    return {"updated": True}


@router.get("/users/{user_id}/tokens", responses={404: {}})
def user_tokens(request: Request, user_id: PathId, _: AdminUser) -> list[dict[str, Any]]:
    """Another user's API tokens (names, dates, last use; never the secret)."""
    with ctx(request).db.read() as conn:
        accounts.user_exists(conn, user_id)
        return accounts.list_tokens(conn, user_id)


@router.delete("/users/{user_id}/tokens/{token_id}", responses={404: {}})
def revoke_user_token(request: Request, user_id: PathId, token_id: PathId, _: AdminUser) -> dict[str, bool]:
    """Revoke another user's API token."""
    with ctx(request).db.write() as conn:
        accounts.user_exists(conn, user_id)
        accounts.revoke_token(conn, user_id, token_id, whose=f"user {user_id} has")
    return {"revoked": True}


@router.get("/lockouts")
def lockouts(request: Request, _: AdminUser) -> list[dict[str, Any]]:
    """Every (username, address) whose logins are refused now, with why and for how long."""
    context = ctx(request)
    with context.db.read() as conn:
        return [asdict(x) for x in context.limiter.lockouts(conn)]


@router.post("/users/{user_id}/unlock", responses={404: {}})
def unlock_user(request: Request, user_id: PathId, _: AdminUser) -> dict[str, int]:
    """Lift a login lock-out: forget the account's failed logins from every address."""
    context = ctx(request)
    with context.db.write() as conn:
        name = conn.execute(sa.select(t.users.c.username).where(t.users.c.id == user_id)).scalar_one_or_none()
        if name is None:
            raise NotFound(f"no user with id {user_id}")
        return {"cleared": context.limiter.clear(conn, username=name)}


@router.post("/lockouts/clear", responses={422: {}})
def clear_lockouts(body: UnlockBody, request: Request, _: AdminUser) -> dict[str, int]:
    """Lift lock-outs by username (any address), by address (any account) or both."""
    if body.username is None and body.ip is None:
        raise Unprocessable("give a username, an ip or both")
    context = ctx(request)
    with context.db.write() as conn:
        return {"cleared": context.limiter.clear(conn, username=body.username, ip=body.ip)}


@router.get("/users/{user_id}/labels", responses={404: {}})
def user_labels(request: Request, user_id: PathId, _: AdminUser
                ) -> list[dict[str, Any]]:
    """Another user's labels (admins only)."""
    with ctx(request).db.read() as conn:
        return labelling.my_labels(conn, user_id)


@router.post("/invites", status_code=201, responses={422: {}})
def create_invite(body: InviteBody, request: Request, user: AdminUser) -> dict[str, str]:
    """An invite link for the given roles; whoever opens it picks a username and password."""
    with ctx(request).db.write() as conn:
        token = accounts.create_invite(conn, user.id, list(body.roles), body.hours)
    # Never built from the request's Host header, which the client chooses: from --public-url, or
    # a path that the admin's own browser completes.
    return {"token": token, "url": ctx(request).settings.invite_url(token)}


@router.put("/instructions")
def save_instructions(body: InstructionsBody, request: Request, user: AdminUser) -> dict[str, Any]:
    """Save a new version of the labelling instructions (Markdown)."""
    with ctx(request).db.write() as conn:
        version = instructions.save(conn, body.body, user.id)
    return {"version": version}


@router.post("/snippets", status_code=201, responses={422: {}})
def add_snippets(body: SnippetsBody, request: Request, _: AdminUser) -> dict[str, Any]:
    """Add unlabelled snippets to a dataset (created if new, for the served task; 409 if it is another task's)."""
    context = ctx(request)
    db = context.db
    snippets = [Snippet(it.prompt, it.completion, source="initial", metadata=dict(it.metadata), prompt_id=it.prompt_id)
                for it in body.items]
    with db.write() as conn:
        bind_dataset(db.store, body.dataset, context.settings.task_config, conn)
        ids = db.store.add(snippets, dataset=body.dataset, conn=conn)
    return {"dataset": body.dataset, "ids": ids, "task": context.settings.task_config.name}


@router.get("/queues")
def all_queues(request: Request, _: AdminUser) -> list[dict[str, Any]]:
    """Every queue, closed ones too."""
    with ctx(request).db.read() as conn:
        return labelling.list_queues(conn, active_only=False)


@router.post("/queues", status_code=201, responses={404: {}, 409: {}, 422: {}})
def create_queue(body: QueueBody, request: Request, _: AdminUser) -> dict[str, Any]:
    """A labelling queue over a dataset's current members, ordered by a selection strategy."""
    context = ctx(request)
    with context.db.read() as conn:
        members = labelling.dataset_members(conn, body.dataset)
    scores = threshold = None
    if body.strategy in ("uncertainty", "redwood") and members:
        pg = context.playground
        scores = np.asarray(pg.scores([m.prompt for m in members], [m.completion for m in members]))
        threshold = pg.threshold()
    order, prio = labelling.priorities(body.strategy, len(members), scores, threshold, body.seed)
    with context.db.write() as conn:
        bind_dataset(context.db.store, body.dataset, context.settings.task_config, conn)
        qid = labelling.create_queue(conn, body.name, body.dataset, body.strategy, body.labels_per_item,
                                     [m.id for m in members], order, prio)
    return {"id": qid, "name": body.name, "size": len(order)}


@router.patch("/queues/{queue_id}", responses={404: {}})
def update_queue(body: QueuePatch, request: Request, queue_id: PathId,
                 _: AdminUser) -> dict[str, Any]:
    """Open or close a queue."""
    from nines.app import schema as t

    with ctx(request).db.write() as conn:
        labelling.queue_row(conn, queue_id)
        conn.execute(t.queues.update().where(t.queues.c.id == queue_id).values(active=body.active))
    return {"id": queue_id, "active": body.active}


@router.get("/queues/{queue_id}/agreement", responses={404: {}})
def agreement(request: Request, queue_id: PathId, _: AdminUser) -> dict[str, Any]:
    """Pairwise agreement, Krippendorff's alpha and the items labellers disagree on."""
    with ctx(request).db.read() as conn:
        return labelling.queue_agreement(conn, queue_id)


@router.get("/adjudications")
def ties(request: Request, _: AdminUser) -> list[dict[str, Any]]:
    """Snippets whose labels tie, awaiting the admin's decision (they have no stored label meanwhile)."""
    with ctx(request).db.read() as conn:
        return adjudication.awaiting(conn)


@router.post("/snippets/{snippet_id}/adjudication", responses={404: {}, 409: {}, 422: {}})
def adjudicate(body: AdjudicationBody, request: Request, snippet_id: PathId, user: AdminUser) -> dict[str, Any]:
    """Settle a tie between labels: the snippet gets this label while its labels stay tied."""
    context = ctx(request)
    label = stored_label(context.settings.task_config, body.label)
    return adjudication.adjudicate(context.db, user, snippet_id, label, body.note)


@router.post("/pairs", status_code=201, responses={422: {}})
def add_pairs(body: PairsBody, request: Request, _: AdminUser) -> dict[str, Any]:
    """Add comparison tasks: two completions of one prompt, each to be rated ``wanted`` times."""
    with ctx(request).db.write() as conn:
        ids = pairwise.add_tasks(conn, (it.model_dump() for it in body.items), body.wanted)
    return {"ids": ids}


@router.get("/finds")
def finds(request: Request, _: AdminUser,
          status: Literal["pending", "confirmed", "rejected"] = "pending") -> list[dict[str, Any]]:
    """Red-team finds with a status (the review queue by default)."""
    with ctx(request).db.read() as conn:
        return redteam.review_queue(conn, status)


@router.post("/finds/{find_id}/review", responses={404: {}, 409: {}})
def review(body: ReviewBody, request: Request, find_id: PathId,
           user: AdminUser) -> dict[str, Any]:
    """Confirm (adds it to the training data as ``adversarial``, labelled positive) or reject a find."""
    context = ctx(request)
    return redteam.review(context.db, user, find_id, body.decision, body.note, context.settings.adversarial_dataset,
                          context.settings.task_config.name)


@router.get("/dashboard")
def overview(request: Request, _: AdminUser) -> dict[str, Any]:
    """Datasets, labels, agreement, classifiers, estimates, comparisons and recent finds."""
    context = ctx(request)
    with context.db.read() as conn:
        return dashboard.overview(conn, context.settings)


def _download(data: bytes, filename: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/export/labels.jsonl", response_class=Response, responses={404: {}})
def export_labels(request: Request, _: AdminUser, dataset: DatasetQuery = None,
                  names: NamesQuery = "stored") -> Response:
    """Every label (one row per label, with labeller and note) as JSONL; ``names=task`` for the task's names."""
    context = ctx(request)
    task = context.settings.task_config if names == "task" else None
    return _download(exports.labels_jsonl(context.db, dataset, task), "labels.jsonl", "application/x-ndjson")


@router.get("/export/labels-hf.zip", response_class=Response, responses={404: {}})
def export_labels_hf(request: Request, _: AdminUser, dataset: DatasetQuery = None,
                     names: NamesQuery = "stored") -> Response:
    """The same rows as a zipped Hugging Face dataset (``datasets.load_from_disk`` after unzipping)."""
    context = ctx(request)
    task = context.settings.task_config if names == "task" else None
    return _download(exports.labels_hf_zip(context.db, dataset, task), "labels-hf.zip", "application/zip")


@router.get("/export/comparisons.jsonl", response_class=Response)
def export_comparisons(request: Request, _: AdminUser) -> Response:
    """Pairwise comparisons as JSONL for ``nines.judge.recorded.RecordedJudge``."""
    return _download(exports.comparisons_jsonl(ctx(request).db), "comparisons.jsonl", "application/x-ndjson")
