"""The red-team lexicon: held back from the natural world, labelled exactly, sharing no phrasing."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nines.adversarial.world_moves import WorldSpace
from nines.adversarial.world_sampling import sample_states
from nines.storyworld import INJURIOUS_OUTCOMES, OUTCOMES, StoryWorld
from nines.storyworld.families import FAMILIES
from nines.storyworld.redteam_families import PREFIX, RED_TEAM_FAMILIES
from nines.storyworld.templates import expand


@pytest.fixture(scope="module")
def natural() -> StoryWorld:
    return StoryWorld(seed=0)


@pytest.fixture(scope="module")
def red() -> StoryWorld:
    return StoryWorld(seed=0, red_team_lexicon=True)


def test_the_lexicon_has_zero_natural_weight(natural: StoryWorld, red: StoryWorld) -> None:
    assert red.families == natural.families and not natural.red_team_families
    assert red.red_team_families == tuple(RED_TEAM_FAMILIES)
    assert red.split_families(0.25, seed=3) == natural.split_families(0.25, seed=3)
    train = list(natural.split_families(0.25, seed=0).train)
    for fams in (None, train):
        a, b = natural.sample(3000, seed=5, families=fams), red.sample(3000, seed=5, families=fams)
        assert a.completions == b.completions and a.prompts == b.prompts
        np.testing.assert_array_equal(a.quality, b.quality)
        np.testing.assert_array_equal(a.logprob, b.logprob)
        assert not any(f.startswith(PREFIX) for f in b.family_names)


def test_only_a_caller_that_names_the_lexicon_gets_it(red: StoryWorld) -> None:
    batch = red.sample(4000, seed=1, families=list(red.red_team_families))
    assert set(batch.family_names) <= set(RED_TEAM_FAMILIES) and len(set(batch.family_names)) > 10


def test_the_oracle_labels_lexicon_text_exactly(natural: StoryWorld, red: StoryWorld) -> None:
    space = WorldSpace(red, list(red.families) + list(red.red_team_families), max_distractors=0)
    rng = np.random.default_rng(0)
    checked = {True: 0, False: 0}
    for state in sample_states(space, 60, rng, condition="any_outcome"):
        prompt = space.prompt_object(state)
        fams = red.tables.families
        ids = [f for f in range(len(fams)) if fams[f].startswith(PREFIX)
               and space.allows_outcome(state, int(red.tables.family_outcome[f]))]
        for f in ids[:6]:
            variant = space.random_variant(f, rng)
            text = space.sentence_text(state, variant)
            expected = space.sentient(state) and OUTCOMES[space.outcome_of(variant)] in INJURIOUS_OUTCOMES
            assert red.label(prompt, text) is expected, text
            # The natural world cannot write it, so it says so rather than guess.
            assert natural.label(prompt, text) is None, text
            checked[expected] += 1
    assert checked[True] > 30 and checked[False] > 30


def _runs(template: str, n: int = 5) -> set[tuple[str, ...]]:
    """Every run of ``n`` words in every variant of a template, slots as one placeholder word."""
    out: set[tuple[str, ...]] = set()
    for variant in expand(template):
        words = re.findall(r"[a-z']+|\{\w+\}", variant.lower())
        words = ["<slot>" if w.startswith("{") else w for w in words]
        out |= {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    return out


def test_no_lexicon_phrasing_copies_a_natural_family() -> None:
    """Held-out natural families must stay unseen even when an attack uses the whole lexicon."""
    natural_runs = set().union(*(_runs(t) for _, ts in FAMILIES.values() for t in ts))
    shared = {fam: sorted(" ".join(r) for t in ts for r in _runs(t) & natural_runs)
              for fam, (_, ts) in RED_TEAM_FAMILIES.items()}
    assert not any(shared.values()), {f: s for f, s in shared.items() if s}


def test_the_lexicon_covers_both_sides_of_the_label() -> None:
    kinds = {kind for kind, _ in RED_TEAM_FAMILIES.values()}
    assert kinds <= set(OUTCOMES)
    assert kinds >= INJURIOUS_OUTCOMES  # every injurious kind
    assert len(kinds - INJURIOUS_OUTCOMES) >= 5  # and hard negatives beside them
    assert all(name.startswith(PREFIX) and name not in FAMILIES for name in RED_TEAM_FAMILIES)


def test_the_exact_filter_scenario_ignores_the_lexicon(natural: StoryWorld, red: StoryWorld) -> None:
    """nines.testing's exact scenario of a lexicon world is the natural world's: zero weight, zero probability."""
    from nines.testing import storyworld_scenario

    a, b = storyworld_scenario(natural), storyworld_scenario(red)
    n = a.cell_probs.shape[1]  # the natural variants come first; the lexicon's are appended
    assert b.cell_probs.shape[1] > n and not b.cell_probs[:, n:].any()
    np.testing.assert_allclose(b.cell_probs[:, :n], a.cell_probs)
    for t in (0.3, 0.7):
        assert b.failure_rate(t) == pytest.approx(a.failure_rate(t), rel=1e-12)
