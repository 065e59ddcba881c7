"""The ``PairwiseJudge`` protocol and helpers shared by every judge.

A judge compares two continuations of the same prompt and returns, per pair, an outcome in
{1.0 (first better), 0.0 (second better), 0.5 (tie)}. A judge is *antisymmetric* when swapping
the two continuations maps the outcome o to 1 - o in distribution; the win-rate estimators in
:mod:`nines.stats.winrate` rely on that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nines.generate.base import Completion, PromptLike

#: What a judge accepts as a continuation: a ``Completion``, a dict (``text``/``quality`` keys), or text.
Candidate = Completion | Mapping[str, Any] | str

FIRST, SECOND, TIE = 1.0, 0.0, 0.5


@runtime_checkable
class PairwiseJudge(Protocol):
    """Compares two continuations of each prompt.

    Attributes:
        name: a short identifier (reports, logs).
        calls: judge calls made so far (each compared pair counts as one call).
    """

    name: str
    calls: int

    def compare(self, prompts: Sequence[PromptLike], first: Sequence[Candidate], second: Sequence[Candidate]) -> np.ndarray:
        """Outcomes per pair: 1.0 first better, 0.0 second better, 0.5 tie; shape ``(len(prompts),)``."""
        ...


def text_of(c: Candidate) -> str:
    """The text of a candidate (``Completion.text``, ``dict["text"]`` or the string itself).

    Raises:
        ValueError: for a dict without ``text`` or an unsupported type.
    """
    if isinstance(c, Completion):
        return c.text
    if isinstance(c, str):
        return c
    if isinstance(c, Mapping):
        if "text" not in c:
            raise ValueError(f"a dict candidate needs a 'text' key to be judged by text, got keys {sorted(c)}")
        return str(c["text"])
    raise ValueError(f"a candidate must be a Completion, a dict or a str, got {type(c).__name__}")


def check_pairs(prompts: Sequence[PromptLike], first: Sequence[Any], second: Sequence[Any]) -> None:
    """Raise a ValueError unless the three sequences have the same length (and are not a bare str)."""
    if isinstance(prompts, str):
        raise ValueError("prompts must be a sequence of strings, not a single string; wrap it in a list")
    if not len(prompts) == len(first) == len(second):
        raise ValueError(
            f"need one first and one second continuation per prompt, got {len(prompts)} prompts, "
            f"{len(first)} first and {len(second)} second"
        )
