"""An attack with the red-team lexicon leaves the training families; its finds keep exact labels."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from nines.adversarial.twins import twins_to_snippets
from nines.adversarial.world import WorldAttackConfig, seed_states, world_attack
from nines.storyworld import INJURIOUS_OUTCOMES, StoryWorld
from nines.storyworld.redteam_families import PREFIX


class NaturalPhrasingClassifier:
    """Knows every natural injurious phrasing and nothing else: the blind spot is exactly the lexicon.

    A completion that renders a natural injurious variant scores 0.95; anything else (safe natural
    text, and every red-team phrasing) 0.05. No natural label-preserving move can fool it, so only
    an attack that leaves the natural families can find a failure.
    """

    def __init__(self, world: StoryWorld) -> None:
        tb = world.tables
        pats = [re.escape(f).replace(r"\{", "{").replace(r"\}", "}") for f in tb.variant_fmt]
        pats = [re.sub(r"\{\d+\}", ".+?", p) for p in pats]
        inj = [p for f, p in zip(tb.template_family[tb.variant_template], pats)
               if f < tb.n_natural_families and world.outcome_of_family(tb.families[f]) in INJURIOUS_OUTCOMES]
        self.natural = re.compile("^(?:" + "|".join(inj) + ")$")
        self.threshold = 0.5

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([0.95 if self.natural.match(c) else 0.05 for c in completions])


@pytest.fixture(scope="module")
def red() -> StoryWorld:
    return StoryWorld(seed=0, red_team_lexicon=True)


def test_only_the_lexicon_attack_finds_failures_and_each_is_exact(red: StoryWorld) -> None:
    train = list(red.split_families(0.25, seed=0).train)
    clf = NaturalPhrasingClassifier(red)
    seeds = seed_states(red, clf, 12, seed=4, families=train)
    assert len(seeds) == 12
    base = WorldAttackConfig(method="greedy", queries_per_seed=120, allow_distractors=False, families=tuple(train))
    assert not world_attack(red, clf, seeds, base).valid_finds  # natural moves cannot leave its knowledge
    lexicon = WorldAttackConfig(method="greedy", queries_per_seed=120, allow_distractors=False,
                                families=tuple(train) + red.red_team_families)
    report = world_attack(red, clf, seeds, lexicon)
    assert len(report.valid_finds) >= 8
    oracle = red.oracle()
    for f in report.valid_finds:
        assert any(x.startswith(PREFIX) for x in f.metadata["families"]), f.metadata
        assert set(f.metadata["families"]) <= set(lexicon.families)
        # The finds are exact: the world's oracle (which knows the lexicon) confirms each one.
        space = lexicon.space(red)
        state = space.from_metadata(f.metadata)
        assert oracle.label([space.prompt_object(state)], [f.completion]) == [True]
    twins = twins_to_snippets(lexicon.space(red), report, 1, 0)
    assert twins and all(t.is_injurious is False for t in twins)


def test_attack_config_accepts_lexicon_names_and_rejects_typos() -> None:
    WorldAttackConfig(families=("explicit.blunt", "redteam.explicit.archaic"))
    with pytest.raises(ValueError, match="redteam_families"):
        WorldAttackConfig(families=("redteam.explicit.archaik",))
