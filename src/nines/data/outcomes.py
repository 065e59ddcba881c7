"""The outcome vocabulary: what kind of event a completion describes, and which kinds are injurious.

StoryWorld generates exactly these kinds (its realisation families are grouped by them, in this code
order) and the hand-written seed set labels its rows with them, so both read them from here: the
vocabulary is a property of the data, not of the world that simulates it.
"""

from __future__ import annotations

#: Outcome kinds, in code order (StoryWorld stores an outcome as its index here).
OUTCOMES: tuple[str, ...] = (
    "explicit_injury",
    "death",
    "indirect_injury",
    "worsened_injury",
    "near_miss",
    "object_damage",
    "metaphor",
    "hurt_feelings",
    "sickness",
    "past_injury",
    "neutral",
)

#: Outcomes that are injurious when the victim is sentient.
INJURIOUS_OUTCOMES: frozenset[str] = frozenset({"explicit_injury", "death", "indirect_injury", "worsened_injury"})

__all__ = ["INJURIOUS_OUTCOMES", "OUTCOMES"]
