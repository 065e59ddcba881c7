"""StoryWorldGenerator: the :class:`nines.generate.Generator` backend over StoryWorld."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from nines.generate.base import Completion
from nines.storyworld import scenes as sc
from nines.storyworld.families import OUTCOMES

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld


class StoryWorldGenerator:
    """Continues prompts made by :meth:`StoryWorld.sample_prompts` / :meth:`StoryWorld.sample`.

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

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """Sample ``n`` completions per prompt, in prompt order.

        Args:
            prompts: prompts produced by this world.
            n: completions per prompt (>= 0).
            seed: RNG seed; ``None`` means 0, so calls are reproducible by default.

        Raises:
            ValueError: for a prompt the world did not produce (or has forgotten), or bad ``n``.
        """
        if isinstance(prompts, str):
            raise ValueError("prompts must be a sequence of strings, not a single string")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        world, tb = self.world, self.world.tables
        ids = []
        for p in prompts:
            sid = world.scene_id_of(p)
            if sid is None:
                raise ValueError(
                    "StoryWorldGenerator only continues prompts made by StoryWorld.sample_prompts/sample "
                    f"of the same world; got {p[:80]!r}"
                )
            ids.append(sid)
        scenes = sc.decode(tb, np.repeat(np.array(ids, dtype=np.int64), n))
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
        world._record_pairs((prompts[j // n], texts[j], inj[j]) for j in range(len(texts)))
        return out
