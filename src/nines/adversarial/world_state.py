"""Latent attack states in StoryWorld: a snippet as its latent choices, and a move between two.

A :class:`WorldState` is one snippet described by its latent choices: the scene (every prompt
variable) and the completion's sentences, each a compiled template variant realised with the
prompt's own victim (always coherent). :mod:`nines.adversarial.world_moves` renders states and
lists the label-preserving moves between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from nines.storyworld import scenes as sc

#: Completion moves act on a non-distractor sentence; prompt moves change one scene field.
COMPLETION_MOVES: tuple[str, ...] = ("synonym", "template", "family", "outcome")
PROMPT_MOVES: tuple[str, ...] = (
    "weapon", "place", "object", "opening", "menace", "objline", "prompt_order", "injury",
)
STRUCTURE_MOVES: tuple[str, ...] = ("distractor", "clause_order")
MOVE_KINDS: tuple[str, ...] = COMPLETION_MOVES + PROMPT_MOVES + STRUCTURE_MOVES

FIELD_INDEX = {f: i for i, f in enumerate(sc.SCENE_FIELDS)}

class Sentence(NamedTuple):
    """One completion sentence: a compiled variant id, and whether it is an inserted distractor."""

    variant: int
    distractor: bool = False


@dataclass(frozen=True)
class WorldState:
    """A snippet as latent choices (hashable, so searches can remember visited states).

    Attributes:
        scene: the scene's latent variables in :data:`nines.storyworld.scenes.SCENE_FIELDS` order.
        sentences: the completion's sentences in order, joined by a space when rendered.
    """

    scene: tuple[int, ...]
    sentences: tuple[Sentence, ...]

    def get(self, field: str) -> int:
        """One scene variable by name (``victim``, ``weapon``, ...)."""
        return self.scene[FIELD_INDEX[field]]

    def with_field(self, field: str, value: int) -> WorldState:
        """A copy with one scene variable changed."""
        i = FIELD_INDEX[field]
        # Direct construction: dataclasses.replace is several times slower and this is the hot path.
        return WorldState(self.scene[:i] + (int(value),) + self.scene[i + 1 :], self.sentences)

    @property
    def n_distractors(self) -> int:
        return sum(s.distractor for s in self.sentences)


class Move(NamedTuple):
    """A neighbour: the move's kind, a human-readable description, and the resulting state."""

    kind: str
    desc: str
    state: WorldState
