"""StoryWorldGenerator: the :class:`nines.generate.Generator` backend over StoryWorld."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from nines.generate.base import Completion, Prompt, PromptLike
from nines.storyworld import scenes as sc
from nines.storyworld.families import OUTCOMES
from nines.storyworld.identity import NOT_A_WORLD_PROMPT

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld


class StoryWorldGenerator:
    """Continues the Prompts StoryWorld made (:meth:`StoryWorld.sample_prompts`,
    :meth:`StoryBatch.prompt_objects`, ...), reading each one's latent scene from its id.

    ``Completion.logprob`` is the exact log-probability of the sampled path (outcome, family,
    template, word choices, referent); ``Completion.meta`` holds ``injurious``, ``outcome``,
    ``family``, ``quality`` and ``coherent``.

    Args:
        world: the world whose prompts are continued.
        families: restrict completion families (``None``: all).
    """

    name: str = "storyworld"

    def __init__(self, world: StoryWorld, families: Iterable[str] | None = None) -> None:
        self.world = world
        self.families = None if families is None else tuple(families)
        self.model = world.model(self.families)

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """Sample ``n`` completions per prompt, in prompt order.

        Args:
            prompts: Prompt objects made by StoryWorld (a plain string cannot say which of the
                scenes sharing its text to continue).
            n: completions per prompt (>= 0).
            seed: RNG seed; ``None`` means 0, so calls are reproducible by default.

        Raises:
            TypeError: for plain-string prompts.
            ValueError: for a Prompt StoryWorld did not make, one whose text is not its scene's
                text, or bad ``n``.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        world, tb = self.world, self.world.tables
        id_arr = world.scene_ids(prompts)  # raises unless every prompt is a StoryWorld Prompt
        refs = [p for p in prompts if isinstance(p, Prompt)]
        own = sc.decode(tb, id_arr)
        for p, text in zip(refs, sc.render_prompts(tb, own, sc.rest_ctx(tb, own))):
            if p.text != text:  # a hand-built Prompt pairing one scene's id with another text
                raise ValueError(NOT_A_WORLD_PROMPT.format(
                    what=f"a Prompt whose text is not the text of its scene {p.id!r}: {p.text[:80]!r}"))
        ids = id_arr.tolist()
        scenes = sc.decode(tb, np.repeat(id_arr, n))
        rng = np.random.default_rng(0 if seed is None else seed)
        model = self.model
        draws = model.sample(scenes, rng)
        texts = model.render(scenes, draws, sc.rest_ctx(tb, scenes))
        inj = model.injurious(scenes, draws).tolist()
        lp = model.logprob(scenes, draws).tolist()
        q = model.quality(draws).tolist()
        coh = draws.coherent.tolist()
        fams = [tb.families[f] for f in draws.family.tolist()]
        outs = [OUTCOMES[k] for k in draws.outcome.tolist()]
        out: list[list[Completion]] = []
        for i in range(len(prompts)):
            row = []
            for j in range(i * n, (i + 1) * n):
                meta = {"injurious": inj[j], "outcome": outs[j], "family": fams[j], "quality": q[j],
                        "coherent": coh[j], "scene_id": ids[j // n]}
                row.append(Completion(texts[j], lp[j], meta))
            out.append(row)
        world.sampled_labels.add((ids[j // n] for j in range(len(texts))), texts, inj)
        return out
