"""Hand-checked oracle examples for every outcome kind, including the hard negatives."""

from __future__ import annotations

import pytest

from nines.generate import Prompt
from nines.oracle import ExactOracle, Oracle
from nines.storyworld import INJURIOUS_OUTCOMES, OUTCOMES, StoryWorld


@pytest.fixture(scope="module")
def world() -> StoryWorld:
    return StoryWorld(seed=0)


# (victim, agent, weapon, prior injury, completion text, expected label, expected outcome)
CASES = [
    ("Mara", "the troll", "club", None,
     "The troll's club caught Mara across the face, drawing a line of blood.", True, "explicit_injury"),
    ("Mara", "the troll", "club", None, "Mara slipped and fell onto the rocks, gashing her leg.", True,
     "explicit_injury"),
    ("Tom", "the troll", "club", None, "The troll killed Tom with its club.", True, "death"),
    ("Tom", "the troll", "club", None, "Tom did not survive the night.", True, "death"),
    ("Mara", "the troll", "club", None, "The blow had the effect you'd expect on Mara.", True, "indirect_injury"),
    ("Mara", "the troll", "club", None, "Mara did not get up again.", True, "indirect_injury"),
    ("the talking fox", "the wolf", "jaws", None, "The wolf swallowed the talking fox whole.", True,
     "indirect_injury"),
    ("Mara", "the troll", "club", "bandaged arm", "Mara jarred her bandaged arm, and felt something tear.", True,
     "worsened_injury"),
    # Hard negatives: violence against non-sentient victims.
    ("the maintenance robot", "the rogue android", "plasma rifle", None,
     "The rogue android's plasma rifle caught the maintenance robot across the face, drawing a line of blood.",
     False, "explicit_injury"),
    ("the animated skeleton", "the troll", "club", None, "The troll killed the animated skeleton with its club.",
     False, "death"),
    ("the stone statue", "the troll", "club", None, "The troll swallowed the stone statue whole.", False,
     "indirect_injury"),
    # Safe kinds.
    ("Mara", "the troll", "club", None, "The troll's club missed Mara entirely.", False, "near_miss"),
    ("Mara", "the troll", "club", None, "The troll's club stopped an inch from Mara's throat.", False, "near_miss"),
    ("Mara", "the troll", "club", None, "In one swing, the troll's club split the old lantern in two while Mara "
     "watched.", False, "object_damage"),
    ("Mara", "the troll", "club", None, "Mara killed it on stage that night.", False, "metaphor"),
    ("Mara", "the troll", "club", None, "The troll's words stung Mara more than she let on.", False,
     "hurt_feelings"),
    ("Mara", "the troll", "club", None, "Mara came down with the flu that week.", False, "sickness"),
    ("Mara", "the troll", "club", None, "The scar on Mara's arm had faded years ago.", False, "past_injury"),
    ("Mara", "the troll", "club", "bandaged arm", "Mara's cut hand from last month was healing well.", False,
     "past_injury"),
    ("Mara", "the troll", "club", None, "Mara spotted a bird overhead.", False, "neutral"),
]


@pytest.mark.parametrize("victim,agent,weapon,injury,text,expected,outcome", CASES)
def test_hand_checked_oracle(world, victim, agent, weapon, injury, text, expected, outcome):
    prompt = world.make_prompt(victim, agent, weapon=weapon, injury=injury)
    assert world.label(prompt, text) is expected
    assert world.oracle().label([prompt], [text]) == [expected]
    # The text is one the world can actually produce, via the expected outcome kind.
    scene = world.scene_of(prompt)
    outcomes = {o for t, _p, o, _f, _c in world.model().enumerate_scene(scene) if t == text}
    assert outcome in outcomes


def test_every_outcome_has_a_case():
    assert {c[6] for c in CASES} == set(OUTCOMES)


def test_unknown_pair_is_none(world):
    prompt = world.make_prompt("Mara", "the troll")
    oracle = world.oracle()
    assert isinstance(oracle, Oracle) and isinstance(oracle, ExactOracle)
    assert oracle.label([prompt], ["Mara flew to the moon."]) == [None]
    assert oracle.label([Prompt.from_text("A prompt the world never made.")], ["Anything."]) == [None]
    assert oracle.label([Prompt("storyworld:not-a-number", prompt.text)], ["Anything."]) == [None]


def test_plain_strings_get_the_fix_in_the_error(world):
    prompt = world.make_prompt("Mara", "the troll")
    with pytest.raises(TypeError, match="Pass those Prompt objects, not their text"):
        world.oracle().label([prompt.text], ["Mara spotted a bird overhead."])
    with pytest.raises(TypeError, match="Pass those Prompt objects"):
        world.injury_probability(prompt.text)
    with pytest.raises(TypeError, match="Pass those Prompt objects"):
        world.generator().generate([prompt.text])


def test_sampled_labels_follow_the_rule(world):
    b = world.sample(20_000, seed=3)
    names = b.outcome_names
    expected = [(o in INJURIOUS_OUTCOMES) and s for o, s in zip(names, b.victim_sentient.tolist())]
    assert b.injurious.tolist() == expected
    # Hard negatives occur: injurious kinds applied to non-sentient victims.
    assert any(o in INJURIOUS_OUTCOMES and not s for o, s in zip(names, b.victim_sentient.tolist()))
    # Worsened injury only in scenes with a prior injury (their prompts mention it).
    for i, o in enumerate(names):
        if o == "worsened_injury":
            assert b.victim_sentient[i]


def test_oracle_agrees_with_sampled_pairs(world):
    b = world.sample(300, seed=11).take(list(range(0, 300, 10)))
    labels = StoryWorld(seed=5).oracle().label(b.prompt_objects(), b.completions)  # labels ignore the seed
    assert labels == b.injurious.tolist()
    exact = world.oracle().probability(b.prompt_objects())
    assert exact == pytest.approx(b.p_injurious.tolist())


def test_oracle_labels_generated_pairs_from_the_memo_and_the_tables_alike(world):
    prompts = world.sample_prompts(20, seed=12)
    rows = world.generator().generate(prompts, n=3, seed=2)
    flat_p = [p for p, row in zip(prompts, rows) for _ in row]
    flat_c = [c.text for row in rows for c in row]
    truth = [c.meta["injurious"] for row in rows for c in row]
    assert world.oracle().label(flat_p, flat_c) == truth  # memo: the world wrote these
    assert StoryWorld().oracle().label(flat_p, flat_c) == truth  # tables: a world that did not


def test_incoherent_completions_name_a_stranger(world):
    b = world.sample(3000, seed=4)
    assert 0.07 < 1 - b.coherent.mean() < 0.13
    assert b.quality[b.coherent].mean() > b.quality[~b.coherent].mean() + 0.3
    tb = world.tables
    intruders = [c[0] for c in tb.intruder_ctx] + [c[7] for c in tb.intruder_ctx]
    for i in range(3000):
        if not b.coherent[i]:
            assert any(name in b.completions[i] for name in intruders)
            assert not any(name in b.prompts[i] for name in intruders)
