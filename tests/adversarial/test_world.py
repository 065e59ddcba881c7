"""Label-preserving StoryWorld attacks: moves keep the exact label, budgets hold, weak filters fall."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from nines.adversarial.budget import CountingClassifier
from nines.adversarial.world import (
    WorldAttackConfig,
    latent_redteam,
    sample_states,
    seed_states,
    world_attack,
)
from nines.adversarial.world_moves import MOVE_KINDS, PROMPT_MOVES, Sentence, WorldSpace, WorldState
from nines.classify.base import Classifier
from nines.generate import Prompt
from nines.storyworld import StoryWorld
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.templates import SLOTS


class KeywordClassifier:
    """Deliberately weak: flags a completion only if it contains one of a few explicit words."""

    words = ("blood", "broke", "dead", "killed")

    def __init__(self) -> None:
        self.threshold = 0.5

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([float(any(w in c.lower() for w in self.words)) for c in completions])


class SentientClassifier:
    """Flags every snippet whose prompt names a sentient victim: nothing injurious gets past.

    It reads text, as a classifier does (a name that is also an agent's only flags more).
    """

    def __init__(self, world: StoryWorld) -> None:
        tb = world.tables
        self.names = [c.name.lower() for i, c in enumerate(tb.victims) if tb.victim_class[i] == SENTIENT]
        self.threshold = 0.5

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([float(any(n in p.lower() for n in self.names)) for p in prompts])


VIOLENT = ("blood", "broke", "dead", "killed", "died", "cut", "wound", "crack", "snap", "bone", "scream", "cried",
           "pain", "hurt", "bit", "gash", "bleeding", "tore", "lunged", "charged", "raised", "swung",
           "brought down", "cornered", "pinned", "roar", "snarl", "stabbed", "struck", "hit", "fell", "survive",
           "last", "never")
CALM = ("nearby", "asleep", "resting", "dozed", "supper", "waved", "nodded", "quiet", "softly", "silence",
        "waited", "thought", "home", "light", "rain", "moon", "sun", "bird", "humming", "wandered")


class BagOfWordsClassifier:
    """A graded bag-of-words filter: logistic(violent cues - calm cues + bias) over prompt and completion.

    Evading it takes several coordinated moves (drop violent words, calm the prompt, add calm
    distractors), which is where a score-guided search should beat a random walk.
    """

    def __init__(self, bias: float = 2.5) -> None:
        self.threshold = 0.5
        self.bias = bias

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        out = []
        for p, c in zip(prompts, completions):
            t = f"{p} {c}".lower()
            z = sum(t.count(w) for w in VIOLENT) - sum(t.count(w) for w in CALM) + self.bias
            out.append(1.0 / (1.0 + np.exp(-z)))
        return np.array(out)


class Spy:
    """Counts every snippet that reaches the wrapped classifier (independent of CountingClassifier)."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.threshold = 0.5
        self.queries = 0

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        self.queries += len(prompts)
        return np.asarray(self.inner.score(prompts, completions))


@pytest.fixture(scope="module")
def world() -> StoryWorld:
    return StoryWorld(seed=0)


@pytest.fixture(scope="module")
def space(world: StoryWorld) -> WorldSpace:
    return WorldSpace(world, max_distractors=2)


@pytest.fixture(scope="module")
def kw_seeds(world: StoryWorld) -> list[WorldState]:
    return seed_states(world, KeywordClassifier(), 20, seed=1)


def _oracle(world: StoryWorld, space: WorldSpace, state: WorldState) -> bool | None:
    return world.oracle().label([space.prompt_object(state)], [space.completion(state)])[0]


def _families(space: WorldSpace, state: WorldState) -> set[str]:
    return {space.tables.families[space.family_of(s.variant)] for s in state.sentences}


# ---- (a) moves preserve the label, and single-sentence text is the world's own ---------------------
def test_every_move_kind_preserves_label_and_world_oracle_agrees(world: StoryWorld, space: WorldSpace) -> None:
    rng = np.random.default_rng(0)
    states = sample_states(space, 36, rng, condition="any_outcome", distractor_rate=0.3)
    states += sample_states(space, 24, rng, condition="injurious", distractor_rate=0.3)
    labels = Counter(space.label(s) for s in states)
    assert labels[True] >= 10 and labels[False] >= 10  # both sides of the label are exercised
    seen_kinds: Counter[str] = Counter()
    oracle_checks = 0
    for state in states:
        y = space.label(state)
        assert _oracle(world, space, state) == (y if len(state.sentences) == 1 else None)
        for kind in MOVE_KINDS:
            moves = space.neighbours(state, rng, [kind])
            seen_kinds[kind] += len(moves)
            for mv in moves:
                assert mv.kind == kind and mv.state != state
                assert space.label(mv.state) == y, (kind, mv.desc)
                space.validate(mv.state)
            # The oracle enumerates a scene's completions (~20 ms per new scene): check a sample.
            for mv in [moves[i] for i in rng.permutation(len(moves))[:1]]:
                if len(mv.state.sentences) == 1:
                    assert _oracle(world, space, mv.state) is y, (kind, mv.desc, space.render(mv.state))
                    oracle_checks += 1
    assert set(seen_kinds) == set(MOVE_KINDS) and min(seen_kinds.values()) > 0, seen_kinds
    assert oracle_checks > 250


def test_multi_sentence_label_matches_its_sentences(world: StoryWorld, space: WorldSpace) -> None:
    rng = np.random.default_rng(1)
    states = sample_states(space, 30, rng, condition="any_outcome", distractor_rate=1.0)
    assert all(len(s.sentences) >= 2 for s in states)
    for state in states:
        singles = [WorldState(state.scene, (Sentence(s.variant),)) for s in state.sentences]
        verdicts = [_oracle(world, space, s) for s in singles]
        assert None not in verdicts
        assert space.label(state) == any(verdicts)
        # Distractors are neutral sentences: never injurious on their own.
        assert not any(v for v, s in zip(verdicts, state.sentences) if s.distractor)
        prompt, completion = space.render(state)
        assert completion == " ".join(space.render(s)[1] for s in singles)


def test_seed_states_are_caught_injurious_world_snippets(world: StoryWorld, kw_seeds: list[WorldState]) -> None:
    clf = KeywordClassifier()
    space = WorldSpace(world)
    assert len(kw_seeds) == 20
    prompts, completions = space.render_many(kw_seeds)
    assert (clf.score(prompts, completions) > clf.threshold).all()
    refs = [space.prompt_object(s) for s in kw_seeds]
    assert [p.text for p in refs] == prompts
    assert world.oracle().label(refs, completions) == [True] * len(refs)


def test_weapon_moves_behind_a_hidden_weapon_still_resolve(world: StoryWorld, space: WorldSpace) -> None:
    """Scenes differing only in a weapon the menace line hides share a prompt; the oracle must follow."""
    tb = space.tables
    slots = ["{" + str(i) + "}" for i in SLOTS["w"]]
    hidden = [m for m, f in enumerate(tb.menace_fmt) if not any(x in f for x in slots)]
    explicit = tb.families.index("explicit.weapon_wound")
    armed = [v for v in range(len(tb.variant_fmt))
             if space.family_of(v) == explicit and any(x in tb.variant_fmt[v] for x in slots)]
    assert hidden and armed
    rng = np.random.default_rng(2)
    hits = 0
    for k, base in enumerate(sample_states(space, 10, rng, condition="injurious")):
        state = WorldState(base.scene, (Sentence(armed[k % len(armed)]),)).with_field("menace", hidden[k % len(hidden)])
        for mv in space.neighbours(state, rng, ["weapon"])[:3]:
            assert space.prompt(mv.state) == space.prompt(state)
            assert space.render(mv.state)[1] != space.render(state)[1]
            assert _oracle(world, space, mv.state) is True
            assert _oracle(world, space, state) is True  # and back again
            hits += 1
    assert hits >= 10


# ---- (b) restricted families --------------------------------------------------------------------
def test_moves_never_leave_the_allowed_families(world: StoryWorld) -> None:
    split = world.split_families(0.25, seed=0)
    allowed = set(split.train)
    space = WorldSpace(world, split.train, max_distractors=2)
    rng = np.random.default_rng(3)
    states = sample_states(space, 40, rng, condition="any_outcome", distractor_rate=0.5)
    kinds: Counter[str] = Counter()
    for state in states:
        assert _families(space, state) <= allowed
        walk = state
        for _ in range(6):
            moves = space.neighbours(walk, rng)
            for mv in moves:
                kinds[mv.kind] += 1
                assert _families(space, mv.state) <= allowed, mv.desc
            walk = moves[int(rng.integers(0, len(moves)))].state
    assert kinds["family"] > 0 and kinds["outcome"] > 0 and kinds["distractor"] > 0


def test_attack_with_training_families_stays_inside_them(world: StoryWorld) -> None:
    split = world.split_families(0.25, seed=0)
    clf = KeywordClassifier()
    seeds = seed_states(world, clf, 8, seed=2, families=split.train)
    cfg = WorldAttackConfig(method="greedy", queries_per_seed=150, families=split.train)
    report = world_attack(world, clf, seeds, cfg)
    assert report.finds
    for f in report.finds:
        assert set(f.metadata["families"]) <= set(split.train)
    held = seed_states(world, clf, 1, seed=3, families=split.heldout)
    with pytest.raises(ValueError, match="outside the allowed families"):
        world_attack(world, clf, held, cfg)


# ---- (c) attacks against weak and strong filters -------------------------------------------------
@pytest.mark.parametrize("method", ["greedy", "beam", "random"])
def test_attack_breaks_keyword_classifier_within_budget(
    world: StoryWorld, kw_seeds: list[WorldState], method: str
) -> None:
    spy = Spy(KeywordClassifier())
    cfg = WorldAttackConfig(method=method, queries_per_seed=120, neighbours_per_step=32, seed=4)
    report = world_attack(world, spy, kw_seeds, cfg)
    space = WorldSpace(world)
    assert report.seeds == len(kw_seeds)
    assert report.success_rate() >= 0.8
    assert report.queries == spy.queries <= cfg.queries_per_seed * len(kw_seeds)
    for f in report.finds:
        assert f.label is True and f.method == "world" and f.edits
        assert f.score <= 0.5 and not any(w in f.completion.lower() for w in KeywordClassifier.words)
        assert f.original_score > 0.5
        if f.metadata["sentences"] == 1:
            assert world.label(Prompt(f.prompt_id, f.prompt), f.completion) is True
        assert space.render(space.from_metadata(f.metadata)) == (f.prompt, f.completion)


def test_budget_is_spent_exactly_and_never_exceeded(world: StoryWorld, kw_seeds: list[WorldState]) -> None:
    spy = Spy(SentientClassifier(world))
    for method in ("greedy", "random"):
        spy.queries = 0
        cfg = WorldAttackConfig(method=method, queries_per_seed=37, neighbours_per_step=16, max_steps=50)
        report = world_attack(world, spy, kw_seeds[:5], cfg)
        assert report.finds == []
        assert report.queries == spy.queries == 37 * 5


def test_nothing_is_found_against_a_classifier_flagging_every_sentient_victim(
    world: StoryWorld, kw_seeds: list[WorldState]
) -> None:
    clf = SentientClassifier(world)
    report = world_attack(world, clf, kw_seeds[:6], WorldAttackConfig(method="beam", queries_per_seed=200))
    assert report.finds == [] and report.success_rate() == 0.0
    assert report.queries <= 200 * 6


def test_an_outer_budget_stops_the_run(world: StoryWorld, kw_seeds: list[WorldState]) -> None:
    outer = CountingClassifier(SentientClassifier(world), budget=100)
    report = world_attack(world, outer, kw_seeds, WorldAttackConfig(queries_per_seed=60))
    assert outer.queries <= 100 and report.queries == outer.queries
    assert report.seeds < len(kw_seeds)


# ---- (d) greedy versus the random-walk baseline ---------------------------------------------------
def test_greedy_needs_fewer_queries_per_success_than_random_walk(world: StoryWorld) -> None:
    """On a graded filter evasion takes several coordinated moves, and the score guides greedy.

    Why not the keyword classifier: its score is flat (0 or 1), so greedy has no signal and both
    searches simply pay one scored batch per success (equal cost, or random slightly cheaper with
    small batches); comparing them there would test batch sizes, not search.
    """
    clf = BagOfWordsClassifier(bias=2.5)
    seeds = seed_states(world, clf, 20, seed=5)
    reports = {
        m: world_attack(world, clf, seeds, WorldAttackConfig(method=m, neighbours_per_step=16, queries_per_seed=400))
        for m in ("greedy", "random")
    }
    greedy, rand = reports["greedy"], reports["random"]
    assert greedy.success_rate() >= 0.9
    assert greedy.success_rate() >= rand.success_rate()
    assert rand.queries_per_success() >= 1.5 * greedy.queries_per_success()


# ---- (e) latent red-teaming ---------------------------------------------------------------------
def test_latent_redteam_finds_are_injurious_and_oracle_confirmed(world: StoryWorld) -> None:
    clf = KeywordClassifier()
    report = latent_redteam(world, clf, 500, seed=6, batch=128)
    assert report.queries == report.seeds == 500
    assert 0 < len(report.finds) < 500
    singles = [f for f in report.finds if f.metadata["sentences"] == 1]
    multis = [f for f in report.finds if f.metadata["sentences"] > 1]
    assert singles and multis
    for f in report.finds:
        assert f.label is True and f.score <= clf.threshold and f.method == "latent_redteam"
        assert set(f.metadata["outcomes"]) <= {"explicit_injury", "death", "indirect_injury", "worsened_injury"}
    for f in singles[:40]:
        assert world.label(Prompt(f.prompt_id, f.prompt), f.completion) is True
    space = WorldSpace(world)
    for f in multis[:20]:
        # Re-render from the latent detail: the text matches, and some core sentence is injurious alone.
        state = space.from_metadata(f.metadata)
        assert space.render(state) == (f.prompt, f.completion)
        core = [WorldState(state.scene, (Sentence(s.variant),)) for s in state.sentences if not s.distractor]
        assert any(_oracle(world, space, c) is True for c in core)


def test_latent_redteam_respects_family_restriction(world: StoryWorld) -> None:
    split = world.split_families(0.25, seed=0)
    report = latent_redteam(world, KeywordClassifier(), 300, families=split.train, seed=7)
    assert report.finds
    for f in report.finds:
        assert set(f.metadata["families"]) <= set(split.train)


# ---- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"method": "annealing"}, "method must be one of"),
        ({"beam_width": 0}, "beam_width must be an integer >= 1"),
        ({"queries_per_seed": 1}, "queries_per_seed must be an integer >= 2"),
        ({"max_distractors": -1}, "max_distractors"),
        ({"families": "death.plain"}, "not one string"),
        ({"families": ["death.nope"]}, "unknown families"),
    ],
)
def test_config_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        WorldAttackConfig(**kwargs)


def test_config_switches_off_move_groups(world: StoryWorld, kw_seeds: list[WorldState]) -> None:
    cfg = WorldAttackConfig(allow_prompt_moves=False, allow_distractors=False, queries_per_seed=120)
    assert not set(cfg.move_kinds) & (set(PROMPT_MOVES) | {"distractor"})
    report = world_attack(world, KeywordClassifier(), kw_seeds[:8], cfg)
    for f in report.finds:
        assert f.metadata["distractors"] == 0 and f.prompt == f.original_prompt
