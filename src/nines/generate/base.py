"""The ``Generator`` protocol every backend implements, and the ``Prompt`` it is given.

A prompt has an identity apart from its text: two prompts may share a text (StoryWorld scenes that
differ only in a detail the text does not show), and a label, a store row or a result refers to a
prompt by its id. Users with their own ids pass :class:`Prompt` objects; a plain string works
everywhere a user gives prompts and gets a content-hash id (:func:`as_prompts`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: Prefix of the ids :func:`as_prompts` gives plain strings.
TEXT_ID_PREFIX = "text:"


def text_prompt_id(text: str) -> str:
    """The content-hash id a plain-string prompt gets: ``"text:"`` + 20 hex digits of SHA-256."""
    return TEXT_ID_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Prompt:
    """A prompt with an identity.

    Attributes:
        id: stable identifier; labels, store rows and results refer to the prompt by it. Backends
            that can continue only their own prompts (StoryWorld) read their latent state from it.
        text: the text a generator continues and a classifier scores.
        meta: optional facts about the prompt (read-only; not part of equality or hashing).
    """

    id: str
    text: str
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"Prompt.id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.text, str):
            raise TypeError(f"Prompt.text must be a string, got {type(self.text).__name__}")
        # A copy, so a caller's later edits to its dict do not change a shared Prompt (a plain dict,
        # not a read-only proxy, because prompts are pickled to worker processes).
        object.__setattr__(self, "meta", dict(self.meta))

    @classmethod
    def from_text(cls, text: str, meta: Mapping[str, Any] | None = None) -> Prompt:
        """A prompt whose id is the content hash of ``text`` (see :func:`text_prompt_id`)."""
        return cls(text_prompt_id(text), text, meta or {})

    def __str__(self) -> str:
        return self.text


#: What a user may pass as a prompt: a :class:`Prompt`, or a plain string (see :func:`as_prompts`).
PromptLike = Prompt | str


def as_prompt(prompt: PromptLike) -> Prompt:
    """``prompt`` itself when it is a :class:`Prompt`, else a content-hash-id Prompt of the string."""
    if isinstance(prompt, Prompt):
        return prompt
    if isinstance(prompt, str):
        return Prompt.from_text(prompt)
    raise TypeError(f"a prompt must be a Prompt or a str, got {type(prompt).__name__}")


def as_prompts(prompts: Iterable[PromptLike]) -> list[Prompt]:
    """Prompts with ids: :class:`Prompt` objects kept, plain strings given content-hash ids.

    Users with their own ids (a dataset's row ids, a JSONL ``"id"`` field) pass ``Prompt`` objects;
    plain strings still work, and the same text always gets the same id.

    Raises:
        TypeError: for a single string (wrap it in a list) or an item that is neither.
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of prompts, not a single string; wrap it in a list")
    return [as_prompt(p) for p in prompts]


def prompt_text(prompt: PromptLike) -> str:
    """The text of a :class:`Prompt` or a plain string."""
    return prompt.text if isinstance(prompt, Prompt) else prompt


def prompt_texts(prompts: Iterable[PromptLike]) -> list[str]:
    """The texts of prompts (:class:`Prompt` objects or plain strings), in order.

    Raises:
        TypeError: for a single string, which would otherwise be read as its characters.
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of prompts, not a single string; wrap it in a list")
    return [prompt_text(p) for p in prompts]


@dataclass(frozen=True)
class Completion:
    """One sampled continuation.

    Attributes:
        text: the continuation, without the prompt.
        logprob: total log-probability of ``text`` given the prompt under the generator,
            or ``None`` when the backend cannot say.
        meta: backend-specific facts. StoryWorld puts its latent event here
            (``injurious``, ``outcome``, ``family``, ``quality``, ...).
    """

    text: str
    logprob: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """Samples ``n`` completions for each prompt.

    Prompts are :class:`Prompt` objects or plain strings (backends continue ``prompt.text``; a
    backend with latent state, StoryWorld, reads it from ``prompt.id`` and accepts only its own
    Prompts). Implementations must be deterministic given ``seed`` (where the backend allows it) and
    return one list of exactly ``n`` completions per prompt, in prompt order.
    """

    name: str

    def generate(
        self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None
    ) -> list[list[Completion]]:
        """Sample ``n`` completions per prompt."""
        ...
