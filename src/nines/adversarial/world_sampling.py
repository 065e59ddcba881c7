"""Sampling latent attack states straight from StoryWorld's latent space (no text, no classifier)."""

from __future__ import annotations

import numpy as np

from nines.adversarial.world_moves import WorldSpace
from nines.adversarial.world_state import Sentence, WorldState
from nines.storyworld import scenes as sc
from nines.storyworld.families import OUTCOMES
from nines.storyworld.lexicon import SENTIENT


def sample_states(
    space: WorldSpace,
    n: int,
    rng: np.random.Generator,
    distribution: str = "default",
    condition: str = "injurious",
    distractor_rate: float = 0.0,
) -> list[WorldState]:
    """Sample ``n`` coherent states straight from the latent space (the space's families only).

    Args:
        space: the state space (its families and ``max_distractors`` apply).
        n: number of states.
        rng: random source.
        distribution: the world's prompt distribution for scenes.
        condition: ``injurious`` draws from the world's own distribution conditioned on an
            injurious label (scenes reweighted by their injury probability, then an injurious
            outcome in proportion); ``any_outcome`` draws a prior scene and a uniform outcome the
            scene allows (broad coverage, including injurious outcomes of non-sentient victims).
        distractor_rate: share of states given 1..``max_distractors`` neutral distractors.
    """
    sc.check_distribution(distribution)
    if condition not in ("injurious", "any_outcome"):
        raise ValueError(f"condition must be 'injurious' or 'any_outcome', got {condition!r}")
    tb, model = space.tables, space.model
    p_max = float(model.p_inj_table.max())
    if condition == "injurious" and p_max <= 0:
        raise ValueError("the allowed families include no injurious family; add one (e.g. 'death.plain')")
    out: list[WorldState] = []
    while len(out) < n:
        m = max(256, 8 * (n - len(out)))
        scenes = sc.sample_scenes(tb, m, rng, distribution)
        probs = model.outcome_probs(scenes)
        if condition == "injurious":
            w = probs * sc.INJURIOUS_MASK
            # Rejection step: P(scene | injurious) is proportional to P(scene) P(injurious | scene).
            sentient = tb.victim_class[scenes["victim"]] == SENTIENT
            keep = sentient & (rng.random(m) * p_max < w.sum(1))
        else:
            w, keep = (probs > 0).astype(np.float64), np.ones(m, dtype=bool)
        w = w[keep]
        cum = np.cumsum(w / w.sum(1, keepdims=True), 1)
        outcome = np.minimum((rng.random(len(w))[:, None] >= cum).sum(1), len(OUTCOMES) - 1)
        family = model.fam_pool.pick(outcome, rng)
        variant = tb.template_variants.pick(tb.family_templates.pick(family, rng), rng)
        rows = np.stack([scenes[f][keep] for f in sc.SCENE_FIELDS], 1)
        for row, v in zip(rows.tolist(), variant.tolist()):
            state = WorldState(tuple(row), (Sentence(v),))
            if space.max_distractors > 0 and rng.random() < distractor_rate:
                state = space.add_distractors(state, int(rng.integers(1, space.max_distractors + 1)), rng)
            out.append(state)
    return out[:n]
