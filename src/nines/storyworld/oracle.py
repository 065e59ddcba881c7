"""StoryWorldOracle: StoryWorld's exact labels and probabilities behind the Oracle protocols.

It satisfies :class:`nines.oracle.Oracle` (``label``) and :class:`nines.oracle.ExactOracle`
(``probability``) structurally, so StoryWorld needs nothing from :mod:`nines.oracle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from nines.generate.base import Prompt

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld


class StoryWorldOracle:
    """Exact labels for any (StoryWorld Prompt, completion text) pair, and exact injury probabilities.

    ``label`` is ``None`` ("cannot say") for a completion the world cannot write for the prompt's
    scene and for a Prompt StoryWorld did not make. Text from *any* generator is labelled (from the
    scene's completion table, ~40 ms per new scene); pairs the world's own generator wrote are
    answered from its memo at once.

    Args:
        world: the world whose scenes the prompts name.
        families: the completion-family restriction :meth:`probability` refers to (``None``: all).

    Attributes:
        name: ``"storyworld-oracle"``.
    """

    name: str = "storyworld-oracle"

    def __init__(self, world: StoryWorld, families: Iterable[str] | None = None) -> None:
        self.world = world
        self.families = None if families is None else tuple(families)

    def label(self, prompts: Sequence[Prompt], completions: Sequence[str]) -> list[bool | None]:
        """One exact label per pair (``None`` where the world cannot say).

        Raises:
            TypeError: for plain-string prompts (pass the Prompt objects StoryWorld made).
            ValueError: when the two sequences differ in length.
        """
        if isinstance(prompts, str) or isinstance(completions, str):
            raise TypeError("prompts and completions must be sequences, not single strings")
        if len(prompts) != len(completions):
            raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
        world = self.world
        sids = [world.scene_id(p) for p in prompts]  # raises for plain strings
        known = {i: s for i, s in enumerate(sids) if s is not None}
        # One vectorised render checks every text against its scene (an edited prompt text is not the scene's).
        texts = {i: p.text for i, p in zip(known, world.prompts_of_scenes(list(known.values())))}
        return [world.scene_label(known[i], completions[i]) if i in known and texts[i] == prompts[i].text else None
                for i in range(len(prompts))]

    def probability(self, prompts: Sequence[Prompt]) -> list[float]:
        """Exact P(a completion is injurious | prompt) under this oracle's family restriction.

        Raises:
            TypeError: for plain strings; ValueError: for a Prompt StoryWorld did not make.
        """
        return [float(x) for x in self.world.injury_probabilities(prompts, self.families)]
