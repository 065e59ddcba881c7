"""Sampling: determinism, base rates, exact probabilities, family restriction, generator, labeller."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nines.data.record import Label, Snippet
from nines.generate import Completion, Generator, Prompt
from nines.storyworld import OUTCOMES, SimulatedLabeller, StoryWorld


@pytest.fixture(scope="module")
def world() -> StoryWorld:
    return StoryWorld(seed=0)


@pytest.fixture(scope="module")
def big(world):
    return {d: world.sample(200_000, seed=7, distribution=d) for d in ("default", "random_excerpt")}


def test_determinism(world):
    a, b, c = world.sample(500, seed=1), world.sample(500, seed=1), world.sample(500, seed=2)
    assert a.prompts == b.prompts and a.completions == b.completions
    assert np.array_equal(a.quality, b.quality) and np.array_equal(a.scene_id, b.scene_id)
    assert a.prompts != c.prompts
    assert StoryWorld(seed=0).sample(500, seed=1).completions == a.completions


def test_lengths_and_scene_ids(world):
    b = world.sample(2000, seed=3)
    assert len(b) == 2000 and len(b.completions) == 2000 and b.p_injurious.shape == (2000,)
    by_id: dict[int, str] = {}
    for sid, p in zip(b.scene_id.tolist(), b.prompts):
        assert by_id.setdefault(sid, p) == p
    assert len(set(b.prompts)) > 1900  # diverse prompts
    assert world.sample(0).prompts == []


@pytest.mark.parametrize("dist,lo,hi", [("default", 0.02, 0.06), ("random_excerpt", 0.0005, 0.01)])
def test_rates_match_exact_probability(big, dist, lo, hi):
    b = big[dist]
    rate, p = b.injurious.mean(), b.p_injurious.mean()
    se = math.sqrt(p * (1 - p) / len(b))
    assert abs(rate - p) < 4 * se
    assert lo <= rate <= hi


def test_logprobs_sum_to_one(world):
    for args in [("Mara", "the troll", "bandaged arm"), ("the maintenance robot", "the rogue android", None)]:
        prompt = world.make_prompt(args[0], args[1], injury=args[2], tension=1)
        for fams in (None, world.split_families(0.3, seed=1).train):
            paths = world.model(fams).enumerate_scene(world.scene_of(prompt))
            assert sum(p for _t, p, _o, _f, _c in paths) == pytest.approx(1.0)
            p_inj = sum(p for t, p, o, f, c in paths if o in ("explicit_injury", "death", "indirect_injury",
                                                             "worsened_injury")) * (args[0] == "Mara")
            assert world.injury_probability(prompt, fams) == pytest.approx(p_inj)
    # Generator log-probabilities equal the enumerated path probabilities.
    prompt = world.make_prompt("Mara", "the troll", tension=2)
    probs: dict[str, float] = {}
    count: dict[str, int] = {}
    for t, p, *_ in world.model().enumerate_scene(world.scene_of(prompt)):
        probs[t] = probs.get(t, 0.0) + p
        count[t] = count.get(t, 0) + 1
    sample = world.generator().generate([prompt], n=20_000, seed=3)[0]
    for c in sample[:300]:
        if count[c.text] == 1:
            assert math.exp(c.logprob) == pytest.approx(probs[c.text])
        else:  # the same text reached by several paths: logprob is one path's probability
            assert math.exp(c.logprob) <= probs[c.text] * (1 + 1e-9)
    # Empirical frequencies of the commonest texts match their exact probabilities.
    freq: dict[str, int] = {}
    for c in sample:
        freq[c.text] = freq.get(c.text, 0) + 1
    for text in sorted(probs, key=probs.get, reverse=True)[:5]:
        p = probs[text]
        assert abs(freq.get(text, 0) / len(sample) - p) < 4 * math.sqrt(p * (1 - p) / len(sample))


def test_outcome_probabilities(world):
    prompt = world.make_prompt("Mara", "the troll", tension=0)
    probs = world.outcome_probabilities(prompt)
    assert set(probs) == set(OUTCOMES) and sum(probs.values()) == pytest.approx(1.0)
    assert probs["worsened_injury"] == 0.0  # no prior injury in this scene


def test_family_split_and_restriction(world):
    assert len(world.families) >= 40
    split = world.split_families(0.25, seed=0)
    assert set(split.train).isdisjoint(split.heldout)
    assert set(split.train) | set(split.heldout) == set(world.families)
    for side in (split.train, split.heldout):
        assert {world.outcome_of_family(f) for f in side} == set(OUTCOMES)
    b = world.sample(20_000, seed=5, families=split.train)
    assert set(b.family_names) <= set(split.train)
    only = world.sample(2000, seed=5, families=["near_miss.negation", "neutral.weather"])
    assert set(only.outcome_names) == {"near_miss", "neutral"}


def test_bad_arguments(world):
    with pytest.raises(ValueError, match="distribution"):
        world.sample(10, distribution="nope")
    with pytest.raises(ValueError, match="unknown family"):
        world.sample(10, families=["explicit.nope"])
    with pytest.raises(ValueError, match="non-negative"):
        world.sample(-1)
    with pytest.raises(ValueError, match="holdout_fraction"):
        world.split_families(1.5)
    with pytest.raises(ValueError, match="no possible completion"):
        world.sample(10, families=["worsened.reopen"])


def test_generator(world):
    gen = world.generator()
    assert isinstance(gen, Generator) and gen.name == "storyworld"
    prompts = world.sample_prompts(5, seed=2)
    out = gen.generate(prompts, n=3, seed=1)
    assert len(out) == 5 and all(len(row) == 3 for row in out)
    c = out[0][0]
    assert isinstance(c, Completion) and c.logprob is not None and c.logprob < 0
    assert set(c.meta) == {"injurious", "outcome", "family", "quality", "coherent", "scene_id"}
    assert gen.generate(prompts, n=3, seed=1) == out
    for p, row in zip(prompts, out):
        for c in row:
            assert world.label(p, c.text) is c.meta["injurious"]
            assert c.meta["scene_id"] == p.meta["scene_id"]
        assert 0.0 <= world.injury_probability(p) <= 1.0
    with pytest.raises(TypeError, match="Pass those Prompt objects, not their text"):
        gen.generate([prompts[0].text])
    with pytest.raises(ValueError, match="Prompt with id 'text:"):
        gen.generate([Prompt.from_text("Once upon a time there was a prompt nobody sampled.")])
    with pytest.raises(ValueError, match="not the text of its scene"):
        gen.generate([Prompt(prompts[0].id, prompts[1].text)])
    # Prompts from sample() can be continued too.
    b = world.sample(10, seed=99)
    assert len(gen.generate(b.prompt_objects()[:2], n=2)[1]) == 2
    held = world.split_families(0.25).heldout
    fams = {c.meta["family"] for row in world.generator(held).generate(prompts, n=50) for c in row}
    assert fams <= set(held)


def test_snippets(world):
    b = world.sample(50, seed=8)
    snips = b.to_snippets(split="train")
    assert len(snips) == 50 and all(isinstance(s, Snippet) for s in snips)
    assert [s.is_injurious for s in snips] == b.injurious.tolist()
    m = snips[0].metadata
    assert {"outcome", "family", "quality", "coherent", "scene_id", "victim_kind"} <= set(m)
    assert snips[0].source == "storyworld" and snips[0].labeller == "oracle"
    assert [s.prompt_id for s in snips] == [p.id for p in b.prompt_objects()]
    assert snips[0].prompt_id == f"storyworld:{m['scene_id']}"


def test_labeller_flip_rate(big):
    b = big["default"]
    labels = SimulatedLabeller(error_rate=0.1, seed=0).label(b)
    said = np.array([lab is Label.INJURIOUS for lab in labels])
    flips = (said != b.injurious).mean()
    assert abs(flips - 0.1) < 0.005
    assert SimulatedLabeller(error_rate=0.1, seed=0).label(b) == labels
    sn = b.to_snippets()[:2000]
    labs = SimulatedLabeller(error_rate=0.0, unsure_rate=0.2, seed=1).label(sn)
    share = np.mean([lab is Label.UNSURE for lab in labs])
    assert 0.16 < share < 0.24
    assert all(lab is Label.UNSURE or (lab is Label.INJURIOUS) == s.is_injurious for lab, s in zip(labs, sn))
    with pytest.raises(ValueError):
        SimulatedLabeller(error_rate=2.0)


def test_prompts_are_never_forgotten_and_rebuild_from_scene_ids() -> None:
    from nines.storyworld import StoryWorld

    world = StoryWorld()
    prompts = world.sample_prompts(5, seed=1)
    meta = [cs[0].meta for cs in world.generator().generate(prompts, n=1, seed=0)]
    world.sample(5000, seed=2)
    # A fresh world continues them too: the id, not a memory of the text, names the scene.
    assert [cs[0].meta for cs in StoryWorld().generator().generate(prompts, n=1, seed=0)] == meta
    rebuilt = world.prompts_of_scenes([m["scene_id"] for m in meta])
    assert rebuilt == prompts and [p.meta["scene_id"] for p in rebuilt] == [m["scene_id"] for m in meta]
    with pytest.raises(ValueError, match="scene ids must be in"):
        world.prompts_of_scenes([world.n_scenes])


def test_two_scenes_sharing_a_prompt_text_keep_their_ids_and_labels() -> None:
    from nines.storyworld import StoryWorld, scene_prompt_id
    from nines.storyworld import scenes as sc

    world = StoryWorld()
    tb = world.tables

    def weapon_twin(prompt):  # a scene differing only in a weapon the prompt's text does not show
        scene = world.scene_of(prompt)
        others = {k: np.repeat(v, len(tb.weapons)) for k, v in scene.items()}
        others["weapon"] = np.arange(len(tb.weapons))
        for p in world.prompts_of_scenes(sc.encode(tb, others)):
            if p.text == prompt.text and p.id != prompt.id:
                return p
        return None

    base, twin = next((p, t) for p in world.sample_prompts(200, seed=6, distribution="random_excerpt")
                      if (t := weapon_twin(p)) is not None)
    assert twin.text == base.text and twin.id != base.id == scene_prompt_id(int(world.scene_id(base)))
    # Each keeps its own scene through the generator, and the oracle labels by the scene.
    rows = world.generator().generate([base, twin], n=200, seed=3)
    assert all(c.meta["scene_id"] == world.scene_id(base) for c in rows[0])
    assert all(c.meta["scene_id"] == world.scene_id(twin) for c in rows[1])
    oracle = StoryWorld().oracle()  # a fresh world: labels from the scenes' tables, not a memo
    for p, row in zip((base, twin), rows):
        assert oracle.label([p] * len(row), [c.text for c in row]) == [c.meta["injurious"] for c in row]


def test_take_selects_rows_consistently() -> None:
    from nines.storyworld import StoryWorld

    batch = StoryWorld().sample(500, seed=4)
    idx = [7, 3, 499]
    sub = batch.take(idx)
    assert len(sub) == 3 and sub.prompts == [batch.prompts[i] for i in idx]
    assert sub.family_names == [batch.family_names[i] for i in idx]
    assert [s.to_dict() for s in sub.to_snippets()] == [batch.to_snippets()[i].to_dict() for i in idx]
