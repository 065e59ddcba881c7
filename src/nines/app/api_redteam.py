"""``/api/redteam``: the playground (generate, score, saliency, suggestions) and red-team finds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from nines.app import redteam
from nines.app.auth import RedteamerUser, ctx
from nines.app.errors import Conflict
from nines.app.models import MAX_ID, FindBody, GenerateBody, PathId, SnippetBody, SuggestBody

router = APIRouter(prefix="/api/redteam", tags=["redteam"], responses={401: {}, 403: {}, 409: {}})


@router.get("/prompt")
def random_prompt(request: Request, _: RedteamerUser,
                  seed: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> dict[str, str]:
    """A prompt the StoryWorld generator can continue, with its id (send it back to ``/generate``)."""
    prompt = ctx(request).playground.sample_prompt(seed)
    return {"prompt": prompt.text, "prompt_id": prompt.id}


@router.post("/generate", responses={422: {}})
def generate(body: GenerateBody, request: Request, _: RedteamerUser) -> dict[str, Any]:
    """``n`` completions of a prompt, each with its score and whether the filter accepts it."""
    return {"completions": ctx(request).playground.generate(body.prompt, body.n, body.seed, body.prompt_id)}


@router.post("/score", responses={422: {}})
def score(body: SnippetBody, request: Request, _: RedteamerUser) -> dict[str, Any]:
    """The classifier's score for a snippet and the filter's verdict."""
    return ctx(request).playground.verdict(body.prompt, body.completion)


@router.post("/saliency", responses={422: {}})
def saliency(body: SnippetBody, request: Request, _: RedteamerUser) -> dict[str, Any]:
    """How much each word pushes the score (positive: toward the task's positive label)."""
    return ctx(request).playground.saliency(body.prompt, body.completion)


@router.post("/suggest", responses={422: {}})
def suggest(body: SuggestBody, request: Request, _: RedteamerUser) -> dict[str, Any]:
    """Substitutions, insertions and deletion at one word, ranked by the score they would give."""
    pg = ctx(request).playground
    return {"suggestions": pg.suggest(body.prompt, body.completion, body.segment, body.index, body.k)}


@router.post("/finds", status_code=201, responses={422: {}})
def submit_find(body: FindBody, request: Request, user: RedteamerUser) -> dict[str, Any]:
    """Submit a positive (e.g. injurious), yet accepted snippet for review, with the seconds it took.

    The server scores it again; a snippet the filter already rejects is not a find.
    """
    context = ctx(request)
    verdict = context.playground.verdict(body.prompt, body.completion)
    if not verdict["accepted"]:
        raise Conflict(f"the filter already rejects this (score {verdict['score']:.4f} > threshold "
                       f"{verdict['threshold']:.4f}); a find must be accepted by the filter")
    return redteam.submit_find(context.db, user, body.prompt, body.completion, verdict["score"],
                               verdict["threshold"], body.note, body.seconds, body.key)


@router.get("/finds")
def my_finds(request: Request, user: RedteamerUser) -> dict[str, Any]:
    """Your finds with the time each took, and totals."""
    with ctx(request).db.read() as conn:
        return redteam.my_finds(conn, user.id)


@router.get("/finds/{find_id}", responses={404: {}})
def one_find(request: Request, find_id: PathId, user: RedteamerUser
             ) -> dict[str, Any]:
    """One of your finds (admins see any)."""
    with ctx(request).db.read() as conn:
        return redteam.get_find(conn, user, find_id)
