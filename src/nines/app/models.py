"""Request bodies of the JSON API, validated by pydantic before any handler runs.

Every string is length-limited and must be storable: NUL characters (PostgreSQL refuses them)
and lone surrogates (not encodable as UTF-8) are rejected with a 422, never a 500 later.
Integers are bounded to what a 32-bit id column holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_ID = 2**31 - 1


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def _strings(value: Any) -> Iterator[str]:
    """Every string (keys included) inside a parsed JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    try:
        encoded = json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("must be plain JSON (no NaN or Infinity)") from None
    if len(encoded) > 20_000:
        raise ValueError("must be at most 20000 characters as JSON")
    for text in _strings(value):
        _storable(text)
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
#: An id in a URL path: ``/api/queues/{queue_id}``.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
StoryText = Annotated[str, StringConstraints(min_length=1, max_length=20_000), AfterValidator(_storable)]
Note = Annotated[str, StringConstraints(max_length=2_000), AfterValidator(_storable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_storable)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_storable)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_storable)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_storable)]
Markdown = Annotated[str, StringConstraints(min_length=1, max_length=200_000), AfterValidator(_storable)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
Key = Annotated[str, StringConstraints(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
#: ``injurious``/``safe``/``unsure``, or the served task's own names (checked against the task by the handler).
LabelValue = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_-]*$")]
Role = Literal["admin", "labeller", "rater", "redteamer"]


class Strict(BaseModel):
    """Unknown fields are an error, so a typo in a field name is not silently ignored."""

    model_config = ConfigDict(extra="forbid", strict=False)


class LoginBody(Strict):
    username: Username
    password: Password


class InviteAcceptBody(Strict):
    token: Secret
    username: Username
    password: Password


class TokenBody(Strict):
    name: Name


class UserBody(Strict):
    username: Username
    password: Password
    roles: list[Role] = Field(min_length=1, max_length=4)


class UserPatch(Strict):
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    active: bool | None = None
    password: Password | None = None


class InviteBody(Strict):
    roles: list[Role] = Field(min_length=1, max_length=4)
    hours: float = Field(default=72.0, gt=0, le=24 * 90)


class InstructionsBody(Strict):
    body: Markdown


class SnippetIn(Strict):
    prompt: StoryText
    completion: StoryText
    metadata: JsonObject = Field(default_factory=dict)
    prompt_id: Name | None = None  # the Prompt's id (nines.generate.base.Prompt.id); at most 128 characters


class SnippetsBody(Strict):
    dataset: Name
    items: list[SnippetIn] = Field(min_length=1, max_length=5_000)


class QueueBody(Strict):
    name: Name
    dataset: Name
    strategy: Literal["random", "sequential", "uncertainty", "redwood"] = "random"
    labels_per_item: int = Field(default=1, ge=1, le=20)
    seed: int = Field(default=0, ge=0, le=MAX_ID)


class QueuePatch(Strict):
    active: bool


class LabelBody(Strict):
    snippet_id: Id
    label: LabelValue
    note: Note | None = None
    key: Key


class PairIn(Strict):
    prompt: StoryText
    first: StoryText
    second: StoryText
    meta: JsonObject = Field(default_factory=dict)


class PairsBody(Strict):
    items: list[PairIn] = Field(min_length=1, max_length=5_000)
    wanted: int = Field(default=1, ge=1, le=20)


class AnswerBody(Strict):
    choice: Literal["left", "right", "tie"]
    key: Key


class GenerateBody(Strict):
    prompt: StoryText
    n: int = Field(default=4, ge=1, le=64)
    seed: int = Field(default=0, ge=0, le=MAX_ID)
    prompt_id: Name | None = None  # the id /api/redteam/prompt gave with this text; none for a typed prompt


class SnippetBody(Strict):
    prompt: StoryText
    completion: StoryText


class SuggestBody(Strict):
    prompt: StoryText
    completion: StoryText
    segment: Literal["prompt", "completion"] = "completion"
    index: int = Field(ge=0, le=10_000)
    k: int = Field(default=8, ge=1, le=50)


class FindBody(Strict):
    prompt: StoryText
    completion: StoryText
    note: Note | None = None
    seconds: float = Field(ge=0, le=7 * 24 * 3600)
    key: Key


class ReviewBody(Strict):
    decision: Literal["confirm", "reject"]
    note: Note | None = None


class AdjudicationBody(Strict):
    label: LabelValue
    note: Note | None = None
