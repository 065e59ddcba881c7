"""StoryBatch: column arrays of sampled (prompt, completion) pairs, and FamilySplit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from nines.data.record import Label, Snippet
from nines.generate.base import Prompt
from nines.storyworld.families import OUTCOMES
from nines.storyworld.identity import make_prompts, scene_prompt_id


class FamilySplit(NamedTuple):
    """Realisation families split into a training side and a held-out side."""

    train: tuple[str, ...]
    heldout: tuple[str, ...]


@dataclass
class StoryBatch:
    """``n`` sampled pairs as columns (the fast path; no per-pair objects).

    Attributes:
        prompts: prompt texts (what a classifier scores); :meth:`prompt_objects` gives the
            :class:`Prompt` objects (ids naming the scenes) that StoryWorld's generator and oracle take.
        completions: one-sentence completion texts.
        injurious: oracle label per pair.
        outcome: int8 codes into :data:`OUTCOMES` (see :attr:`outcome_names`).
        family: int16 codes into :attr:`family_table` (see :attr:`family_names`).
        quality: latent quality (coherent ~1.0, incoherent ~0.45).
        coherent: whether the completion only names the prompt's own characters.
        scene_id: latent scene id; same id implies same prompt.
        p_injurious: exact probability that a completion of this scene is injurious under the
            family restriction used for sampling.
        victim_kind: int16 codes into :attr:`kind_table` (human, robot, statue, ...).
        victim_sentient: whether the scene's victim is sentient.
        logprob: exact log-probability of each completion given its prompt.
        family_table: family names indexed by ``family`` codes.
        kind_table: victim kind names indexed by ``victim_kind`` codes.
    """

    prompts: list[str]
    completions: list[str]
    injurious: np.ndarray
    outcome: np.ndarray
    family: np.ndarray
    quality: np.ndarray
    coherent: np.ndarray
    scene_id: np.ndarray
    p_injurious: np.ndarray
    victim_kind: np.ndarray
    victim_sentient: np.ndarray
    logprob: np.ndarray
    family_table: tuple[str, ...]
    kind_table: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.prompts)

    def take(self, indices: np.ndarray | list[int]) -> StoryBatch:
        """The rows at ``indices`` (in that order), as a new batch."""
        idx = np.asarray(indices, dtype=np.int64)
        cols = {f: getattr(self, f)[idx] for f in (
            "injurious", "outcome", "family", "quality", "coherent", "scene_id", "p_injurious",
            "victim_kind", "victim_sentient", "logprob")}
        rows = idx.tolist()
        return StoryBatch(prompts=[self.prompts[i] for i in rows], completions=[self.completions[i] for i in rows],
                          family_table=self.family_table, kind_table=self.kind_table, **cols)

    def prompt_objects(self) -> list[Prompt]:
        """The prompts as :class:`Prompt` objects whose ids name their scenes (``storyworld:<id>``)."""
        return make_prompts(self.prompts, self.scene_id.tolist())

    @property
    def outcome_names(self) -> list[str]:
        """Outcome names per pair (``OUTCOMES[code]``)."""
        return [OUTCOMES[k] for k in self.outcome.tolist()]

    @property
    def family_names(self) -> list[str]:
        """Family names per pair."""
        ft = self.family_table
        return [ft[k] for k in self.family.tolist()]

    def to_snippets(self, source: str = "storyworld", labeller: str = "oracle", split: str | None = None) -> list[Snippet]:
        """Convert to :class:`Snippet` records labelled by the oracle (the slow path).

        Args:
            source: snippet source (default ``storyworld``).
            labeller: labeller name recorded on each snippet.
            split: ``train``/``val``/``test`` or ``None``.
        """
        outs, fams, kinds = self.outcome_names, self.family_names, self.kind_table
        out = []
        for i in range(len(self)):
            inj = bool(self.injurious[i])
            out.append(
                Snippet(
                    prompt=self.prompts[i],
                    completion=self.completions[i],
                    label=Label.INJURIOUS if inj else Label.SAFE,
                    source=source,
                    labeller=labeller,
                    split=split,
                    prompt_id=scene_prompt_id(int(self.scene_id[i])),
                    metadata={
                        "injurious": inj,
                        "outcome": outs[i],
                        "family": fams[i],
                        "quality": float(self.quality[i]),
                        "coherent": bool(self.coherent[i]),
                        "scene_id": int(self.scene_id[i]),
                        "victim_kind": kinds[int(self.victim_kind[i])],
                        "victim_sentient": bool(self.victim_sentient[i]),
                        "p_injurious": float(self.p_injurious[i]),
                    },
                )
            )
        return out
