"""The ``Oracle`` protocols: where the ground-truth label of a (prompt, completion) pair comes from.

Evaluation, measurement, adversarial training and distillation ask an :class:`Oracle` for labels,
so the truth can come from StoryWorld (exact, simulated), a table of labelled rows (people, a past
run), or a judge, without those stages knowing which. An oracle says ``None`` when it cannot say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from nines.generate.base import Prompt


@runtime_checkable
class Oracle(Protocol):
    """Labels (prompt, completion) pairs: True injurious, False safe, ``None`` cannot say.

    Attributes:
        name: a short identifier for reports.
    """

    name: str

    def label(self, prompts: Sequence[Prompt], completions: Sequence[str]) -> list[bool | None]:
        """One label per pair, in order (``None`` where the oracle cannot say)."""
        ...


@runtime_checkable
class ExactOracle(Protocol):
    """Knows the exact probability that a completion of a prompt is injurious.

    Only a simulated world can (StoryWorld's :class:`~nines.storyworld.StoryWorldOracle`); rare-event
    truth such as a policy's exact failure rate is measured against it when available.
    """

    name: str

    def probability(self, prompts: Sequence[Prompt]) -> list[float]:
        """P(a completion of each prompt is injurious), in order."""
        ...


def label_all(oracle: Oracle, prompts: Sequence[Prompt], completions: Sequence[str]) -> list[bool | None]:
    """``oracle.label`` with its answer checked (one label per pair, each True/False/None).

    Raises:
        ValueError: when the lengths differ or the oracle returns the wrong number or kind of labels.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
    if not prompts:
        return []
    out = list(oracle.label(prompts, completions))
    name = getattr(oracle, "name", type(oracle).__name__)
    if len(out) != len(prompts):
        raise ValueError(f"oracle {name!r} returned {len(out)} labels for {len(prompts)} pairs")
    bad = [y for y in out if y is not None and not isinstance(y, bool)]
    if bad:
        raise ValueError(f"oracle {name!r} must return True, False or None per pair, got {bad[0]!r}")
    return out
