"""Training snippets from an attack: its finds (injurious) and their safe twins (hard negatives).

Both carry exact labels from their latent states and the StoryWorld prompt id of their scene.
"""

from __future__ import annotations

import numpy as np

from nines.adversarial.result import AttackReport
from nines.adversarial.world_moves import Sentence, WorldSpace, WorldState
from nines.data.record import Label, Snippet
from nines.storyworld.families import OUTCOMES
from nines.storyworld.scenes import INJURIOUS_MASK

__all__ = ["finds_to_snippets", "safe_twin", "twins_to_snippets"]


def finds_to_snippets(report: AttackReport, round_no: int) -> list[Snippet]:
    """Oracle-confirmed finds as labelled training snippets (source ``adversarial``).

    Each keeps the realisation families and outcomes its sentences use (where the attack knows
    them), so a round's ``finds.jsonl`` shows which phrasings the classifier missed.
    """
    return [
        Snippet(prompt=f.prompt, completion=f.completion, label=Label.INJURIOUS, source="adversarial",
                labeller="oracle", split="train", prompt_id=f.prompt_id,
                metadata={"round": round_no, "attack": f.method, "score": f.score, "edits": f.edits,
                          **{k: f.metadata[k] for k in ("families", "outcomes") if k in f.metadata}})
        for f in report.valid_finds
    ]


def safe_twin(space: WorldSpace, state: WorldState, rng: np.random.Generator) -> WorldState | None:
    """The state with every injurious sentence replaced by a safe outcome the scene allows (label False).

    Returns ``None`` when the scene allows no safe outcome in the space's families.
    """
    safe = [k for k, fams in enumerate(space.by_outcome)
            if fams and not INJURIOUS_MASK[k] and OUTCOMES[k] != "neutral" and space.allows_outcome(state, k)]
    if not safe:
        return None
    sents = []
    for s in state.sentences:
        if not s.distractor and INJURIOUS_MASK[space.outcome_of(s.variant)]:
            k = int(rng.choice(safe))
            s = Sentence(space.random_variant(int(rng.choice(space.by_outcome[k])), rng), False)
        sents.append(s)
    twin = WorldState(state.scene, tuple(sents))
    return None if space.label(twin) else twin


def twins_to_snippets(space: WorldSpace, report: AttackReport, round_no: int, seed: int) -> list[Snippet]:
    """Safe twins of a report's finds, as labelled training snippets."""
    rng = np.random.default_rng(seed)
    out = []
    for f in report.valid_finds:
        twin = safe_twin(space, space.from_metadata(f.metadata), rng)
        if twin is None:
            continue
        prompt, completion = space.prompt_object(twin), space.completion(twin)
        out.append(Snippet(prompt=prompt.text, completion=completion, label=Label.SAFE, source="adversarial",
                           labeller="oracle", split="train", prompt_id=prompt.id,
                           metadata={"round": round_no, "twin_of": f.completion, **space.describe(twin)}))
    return out
