"""The ``Generator`` protocol every backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


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

    Implementations must be deterministic given ``seed`` (where the backend allows it) and
    return one list of exactly ``n`` completions per prompt, in prompt order.
    """

    name: str

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """Sample ``n`` completions per prompt."""
        ...
