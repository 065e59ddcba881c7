"""Latent attack states in StoryWorld and the label-preserving moves between them.

A :class:`WorldState` is one snippet described by its latent choices: the scene (every prompt
variable) and the completion's sentences, each a compiled template variant realised with the
prompt's own victim (always coherent). Because every choice is latent, the label is known by
construction: injurious iff the victim is sentient and some sentence realises an injurious outcome.
:class:`WorldSpace` renders states to exactly the text the world would produce and lists each
state's neighbours under moves that keep that label and never leave an allowed family set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from nines.storyworld import scenes as sc
from nines.storyworld.families import OUTCOMES
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.tables import Pool
from nines.storyworld.world import StoryWorld

#: Completion moves act on a non-distractor sentence; prompt moves change one scene field.
COMPLETION_MOVES: tuple[str, ...] = ("synonym", "template", "family", "outcome")
PROMPT_MOVES: tuple[str, ...] = (
    "weapon", "place", "object", "opening", "menace", "objline", "prompt_order", "injury",
)
STRUCTURE_MOVES: tuple[str, ...] = ("distractor", "clause_order")
MOVE_KINDS: tuple[str, ...] = COMPLETION_MOVES + PROMPT_MOVES + STRUCTURE_MOVES

_NEUTRAL = OUTCOMES.index("neutral")
_FIELD = {f: i for i, f in enumerate(sc.SCENE_FIELDS)}
_PROMPT_FIELD = {"prompt_order": "order"}


class Sentence(NamedTuple):
    """One completion sentence: a compiled variant id, and whether it is an inserted distractor."""

    variant: int
    distractor: bool = False


@dataclass(frozen=True)
class WorldState:
    """A snippet as latent choices (hashable, so searches can remember visited states).

    Attributes:
        scene: the scene's latent variables in :data:`nines.storyworld.scenes.SCENE_FIELDS` order.
        sentences: the completion's sentences in order, joined by a space when rendered.
    """

    scene: tuple[int, ...]
    sentences: tuple[Sentence, ...]

    def get(self, field: str) -> int:
        """One scene variable by name (``victim``, ``weapon``, ...)."""
        return self.scene[_FIELD[field]]

    def with_field(self, field: str, value: int) -> WorldState:
        """A copy with one scene variable changed."""
        i = _FIELD[field]
        # Direct construction: dataclasses.replace is several times slower and this is the hot path.
        return WorldState(self.scene[:i] + (int(value),) + self.scene[i + 1 :], self.sentences)

    @property
    def n_distractors(self) -> int:
        return sum(s.distractor for s in self.sentences)


class Move(NamedTuple):
    """A neighbour: the move's kind, a human-readable description, and the resulting state."""

    kind: str
    desc: str
    state: WorldState


def _pick(items: Sequence[int], rng: np.random.Generator) -> int:
    """A uniform member (faster than ``rng.choice`` on short lists)."""
    return int(items[int(rng.integers(0, len(items)))])


def _members(pool: Pool, group: int) -> list[int]:
    start = int(pool.start[group])
    return pool.flat[start : start + int(pool.length[group])].tolist()


class WorldSpace:
    """Renders :class:`WorldState` s and lists their label-preserving neighbours.

    Args:
        world: the StoryWorld whose tables render the text; rendered prompts are registered with it
            (``world.remember_prompts``) so ``world.oracle`` can check single-sentence states.
        families: family names moves and sampled states may use; ``None`` allows all.
        max_distractors: most neutral distractor sentences a state may carry (0 disables them).
    """

    def __init__(self, world: StoryWorld, families: Iterable[str] | None = None, max_distractors: int = 2) -> None:
        if isinstance(max_distractors, bool) or not isinstance(max_distractors, int) or max_distractors < 0:
            raise ValueError(f"max_distractors must be a non-negative integer, got {max_distractors!r}")
        self.world = world
        tb = self.tables = world.tables
        self.families = None if families is None else tuple(families)
        self.model = world.model(self.families)
        self.allowed = frozenset(np.flatnonzero(self.model.allowed).tolist())
        self.max_distractors = max_distractors
        self.by_outcome = [[f for f in sorted(self.allowed) if tb.family_outcome[f] == k] for k in range(len(OUTCOMES))]
        self.neutral_variants = [
            v for f in self.by_outcome[_NEUTRAL] for t in _members(tb.family_templates, f)
            for v in _members(tb.template_variants, t)
        ]
        # Why the unrestricted base table: a state is valid when the world itself can produce it.
        self.base = sc.base_outcome_table()
        self._genres = self._genre_index()
        self._prompts: dict[tuple[int, ...], str] = {}
        self._owner: dict[str, tuple[int, ...]] = {}
        self._names: dict[str, list[str]] = {
            "weapon": list(tb.weapons), "place": [p[0] for p in tb.places], "object": list(tb.objects),
            "injury": [c[0] for c in tb.injury_ctx],
        }

    # ---- structure of the tables ---------------------------------------------------------------
    def _genre_index(self) -> dict[str, list[set[int]]]:
        tb = self.tables
        idx = range(tb.n_genres)
        return {
            "victim": [set(_members(tb.sentient_pool, g)) | set(_members(tb.nonsentient_pool, g)) for g in idx],
            "agent": [set(_members(tb.agent_pool, g)) for g in idx],
            "place": [set(_members(tb.place_pool, g)) for g in idx],
            "object": [set(_members(tb.object_pool, g)) for g in idx],
        }

    def family_of(self, variant: int) -> int:
        """Family id of a compiled variant."""
        return int(self.tables.template_family[self.tables.variant_template[variant]])

    def outcome_of(self, variant: int) -> int:
        """Outcome code (index into ``OUTCOMES``) of a compiled variant."""
        return int(self.tables.family_outcome[self.family_of(variant)])

    def sentient(self, state: WorldState) -> bool:
        """Whether the state's victim is sentient (only then can a snippet be injurious)."""
        return bool(self.tables.victim_class[state.get("victim")] == SENTIENT)

    def label(self, state: WorldState) -> bool:
        """Exact label: a sentient victim and at least one sentence with an injurious outcome."""
        return self.sentient(state) and any(bool(sc.INJURIOUS_MASK[self.outcome_of(s.variant)]) for s in state.sentences)

    def allows_outcome(self, state: WorldState, outcome: int) -> bool:
        """Whether the world gives ``outcome`` nonzero probability in this state's scene."""
        tension = int(self.tables.menace_tension[state.get("menace")])
        return bool(self.base[tension, int(state.get("injury") > 0), int(self.sentient(state)), outcome] > 0)

    def validate(self, state: WorldState) -> None:
        """Raise ValueError when a state uses a disallowed family or one the world cannot produce."""
        if not state.sentences or all(s.distractor for s in state.sentences):
            raise ValueError("a WorldState needs at least one non-distractor sentence")
        if state.n_distractors > self.max_distractors:
            raise ValueError(f"state has {state.n_distractors} distractors; max_distractors is {self.max_distractors}")
        for s in state.sentences:
            fam = self.family_of(s.variant)
            if fam not in self.allowed:
                raise ValueError(
                    f"state uses family {self.tables.families[fam]!r} outside the allowed families; "
                    "build seeds with the same families (seed_states(..., families=...))"
                )
            if s.distractor and self.outcome_of(s.variant) != _NEUTRAL:
                raise ValueError("distractor sentences must come from 'neutral' families")
            if not self.allows_outcome(state, self.outcome_of(s.variant)):
                raise ValueError(f"the scene cannot produce outcome {OUTCOMES[self.outcome_of(s.variant)]!r}")

    # ---- rendering -----------------------------------------------------------------------------
    def scene_arrays(self, state: WorldState) -> sc.Scenes:
        """The state's scene as a one-row scenes dict."""
        return {f: np.array([v], dtype=np.int64) for f, v in zip(sc.SCENE_FIELDS, state.scene)}

    def scene_id(self, state: WorldState) -> int:
        """The world's latent scene id of the state's scene."""
        return int(sc.encode(self.tables, self.scene_arrays(state))[0])

    def prompt(self, state: WorldState) -> str:
        """The prompt text (rendered by the world's own renderer, then registered with the world)."""
        text = self._prompts.get(state.scene)
        if text is None:
            scenes = self.scene_arrays(state)
            text = sc.render_prompts(self.tables, scenes, sc.rest_ctx(self.tables, scenes))[0]
            if len(self._prompts) > 200_000:  # bound memory on very long runs
                self._prompts.clear()
                self._owner.clear()
            self._prompts[state.scene] = text
        # Scenes that differ only in a weapon the menace line does not show render the same prompt;
        # the world maps a prompt to the scene registered last, so follow the state rendered last.
        if self._owner.get(text) != state.scene:
            self.register(state, text)
        return text

    def register(self, state: WorldState, prompt: str | None = None) -> None:
        """(Re-)register the state's prompt with the world so ``world.oracle`` resolves it to this scene."""
        text = self.prompt(state) if prompt is None else prompt
        self.world.remember_prompts([text], [self.scene_id(state)], overwrite=True)
        self._owner[text] = state.scene

    def sentence_text(self, state: WorldState, variant: int) -> str:
        """One variant rendered for the state's scene, with the prompt's own victim (coherent)."""
        tb = self.tables
        ctx = tb.victim_ctx[state.get("victim")] + tb.agent_ctx[state.get("agent")] + (
            tb.weapon_ctx[state.get("weapon")] + tb.injury_ctx[state.get("injury")]
            + tb.place_ctx[state.get("place")] + tb.object_ctx[state.get("object")]
        )
        return tb.variant_fmt[variant].format(*ctx)

    def completion(self, state: WorldState) -> str:
        """The completion text: the sentences' renderings joined by single spaces."""
        return " ".join(self.sentence_text(state, s.variant) for s in state.sentences)

    def render(self, state: WorldState) -> tuple[str, str]:
        """(prompt, completion) text of a state."""
        return self.prompt(state), self.completion(state)

    def render_many(self, states: Sequence[WorldState]) -> tuple[list[str], list[str]]:
        """Prompts and completions of many states, as two lists (a classifier's arguments)."""
        pairs = [self.render(s) for s in states]
        return [p for p, _ in pairs], [c for _, c in pairs]

    def describe(self, state: WorldState) -> dict[str, object]:
        """JSON-ready latent detail (for ``AttackFind.metadata``)."""
        core = [s.variant for s in state.sentences if not s.distractor]
        fams = self.tables.families
        outcomes = [OUTCOMES[self.outcome_of(v)] for v in core]
        return {
            "families": [fams[self.family_of(v)] for v in core],
            "outcome": outcomes[0] if outcomes else None,
            "outcomes": outcomes,
            "distractors": state.n_distractors,
            "sentences": len(state.sentences),
            "variants": [s.variant for s in state.sentences],
            "distractor_mask": [s.distractor for s in state.sentences],
            "scene_id": self.scene_id(state),
        }

    def from_metadata(self, meta: dict[str, Any]) -> WorldState:
        """The state back from :meth:`describe`'s output (e.g. an ``AttackFind.metadata``)."""
        sents = tuple(Sentence(int(v), bool(d)) for v, d in zip(meta["variants"], meta["distractor_mask"]))
        return WorldState(self._scene_tuple(int(meta["scene_id"])), sents)

    def _scene_tuple(self, scene_id: int) -> tuple[int, ...]:
        return tuple(int(x[0]) for x in sc.decode(self.tables, np.array([scene_id])).values())

    def from_snippet(self, scene_id: int, family: int, completion: str) -> WorldState | None:
        """Reconstruct the state of a sampled coherent one-sentence snippet, or ``None``."""
        scene = self._scene_tuple(scene_id)
        probe = WorldState(scene, ())
        for t in _members(self.tables.family_templates, family):
            for v in _members(self.tables.template_variants, t):
                if self.sentence_text(probe, v) == completion:
                    return WorldState(scene, (Sentence(v),))
        return None

    # ---- random choices ------------------------------------------------------------------------
    def random_variant(self, family: int, rng: np.random.Generator) -> int:
        """A uniform template of ``family``, then a uniform variant of it (the world's own choice)."""
        template = _pick(_members(self.tables.family_templates, family), rng)
        return _pick(_members(self.tables.template_variants, template), rng)

    def add_distractors(self, state: WorldState, k: int, rng: np.random.Generator) -> WorldState:
        """Insert ``k`` random neutral sentences at random positions (fewer if at the limit)."""
        k = min(k, self.max_distractors - state.n_distractors)
        if not self.neutral_variants or k <= 0:
            return state
        sents = list(state.sentences)
        for _ in range(k):
            pos = int(rng.integers(0, len(sents) + 1))
            sents.insert(pos, Sentence(_pick(self.neutral_variants, rng), True))
        return WorldState(state.scene, tuple(sents))

    # ---- neighbours ----------------------------------------------------------------------------
    def neighbours(
        self, state: WorldState, rng: np.random.Generator, kinds: Iterable[str] | None = None
    ) -> list[Move]:
        """Every label-preserving neighbour under the given move kinds (``None``: all of them).

        Template, family and outcome moves pick one random variant per target template, family or
        outcome (so no kind swamps the list); synonym and prompt moves list every alternative.
        """
        wanted = MOVE_KINDS if kinds is None else tuple(kinds)
        unknown = set(wanted) - set(MOVE_KINDS)
        if unknown:
            raise ValueError(f"unknown move kinds {sorted(unknown)}; choose from {MOVE_KINDS}")
        out: list[Move] = []
        for i, s in enumerate(state.sentences):
            if not s.distractor:
                out += self._completion_moves(state, i, rng, wanted)
        out += self._prompt_moves(state, wanted)
        out += self._structure_moves(state, rng, wanted)
        return out

    def _swap(self, state: WorldState, i: int, variant: int, distractor: bool = False) -> WorldState:
        sents = list(state.sentences)
        sents[i] = Sentence(variant, distractor)
        return WorldState(state.scene, tuple(sents))

    def _completion_moves(self, state: WorldState, i: int, rng: np.random.Generator, wanted: tuple[str, ...]) -> list[Move]:
        tb = self.tables
        var = state.sentences[i].variant
        tmpl, fam = int(tb.variant_template[var]), self.family_of(var)
        out: list[Move] = []
        if "synonym" in wanted:
            out += [Move("synonym", f"synonym s{i}: variant {var}->{v}", self._swap(state, i, v))
                    for v in _members(tb.template_variants, tmpl) if v != var]
        if "template" in wanted:
            for t in _members(tb.family_templates, fam):
                if t != tmpl:
                    v = _pick(_members(tb.template_variants, t), rng)
                    out.append(Move("template", f"template s{i}: {tmpl}->{t}", self._swap(state, i, v)))
        outcome = self.outcome_of(var)
        if "family" in wanted:
            for f in self.by_outcome[outcome]:
                if f != fam:
                    desc = f"family s{i}: {tb.families[fam]}->{tb.families[f]}"
                    out.append(Move("family", desc, self._swap(state, i, self.random_variant(f, rng))))
        if "outcome" in wanted:
            for k, fams in enumerate(self.by_outcome):
                # Same side of the label (injurious kinds only swap among themselves) and producible.
                if k == outcome or not fams or sc.INJURIOUS_MASK[k] != sc.INJURIOUS_MASK[outcome]:
                    continue
                if self.allows_outcome(state, k):
                    f = _pick(fams, rng)
                    desc = f"outcome s{i}: {OUTCOMES[outcome]}->{OUTCOMES[k]} ({tb.families[f]})"
                    out.append(Move("outcome", desc, self._swap(state, i, self.random_variant(f, rng))))
        return out

    def _field_options(self, state: WorldState, kind: str) -> list[int]:
        """Alternative values of a prompt field that keep the victim (and the label)."""
        tb = self.tables
        if kind == "weapon":
            return _members(tb.weapon_pool, int(tb.agent_wgroup[state.get("agent")]))
        if kind in ("place", "object"):
            # Stay inside a genre that holds both characters, so the scene stays plausible.
            g = self._genres
            genres = [k for k in range(tb.n_genres)
                      if state.get("victim") in g["victim"][k] and state.get("agent") in g["agent"][k]]
            return sorted(set().union(*(g[kind][k] for k in genres or range(tb.n_genres))))
        if kind == "opening":
            vclass = int(tb.victim_class[state.get("victim")])
            okey = int(state.get("injury") > 0) if vclass == SENTIENT else vclass + 1
            return _members(tb.opening_pool, okey)
        if kind == "menace":
            # Any tension at which the world can still produce every sentence's outcome.
            prior, sent = int(state.get("injury") > 0), int(self.sentient(state))
            outs = [self.outcome_of(s.variant) for s in state.sentences]
            ok = np.asarray((self.base[:, prior, sent][:, outs] > 0).all(1))
            return np.flatnonzero(ok[tb.menace_tension]).tolist()
        if kind == "objline":
            return list(range(len(tb.object_fmt)))
        if kind == "prompt_order":
            return [0, 1]
        # A prior injury can change which one it is, but not appear or vanish (that would change
        # the opening sentence class and which outcomes are possible).
        return list(range(1, len(tb.injury_ctx))) if state.get("injury") > 0 else []

    def _prompt_moves(self, state: WorldState, wanted: tuple[str, ...]) -> list[Move]:
        out: list[Move] = []
        for kind in PROMPT_MOVES:
            if kind not in wanted:
                continue
            field = _PROMPT_FIELD.get(kind, kind)
            old = state.get(field)
            head = f"{kind}: {self._value_name(field, old)}->"
            out += [Move(kind, head + self._value_name(field, v), state.with_field(field, v))
                    for v in self._field_options(state, kind) if v != old]
        return out

    def _value_name(self, field: str, value: int) -> str:
        if field in self._names:
            return self._names[field][value]
        if field == "menace":
            return f"{value} (tension {int(self.tables.menace_tension[value])})"
        return str(value)

    def _structure_moves(self, state: WorldState, rng: np.random.Generator, wanted: tuple[str, ...]) -> list[Move]:
        sents = state.sentences
        out: list[Move] = []
        if "distractor" in wanted:
            if self.neutral_variants and state.n_distractors < self.max_distractors:
                for pos in range(len(sents) + 1):
                    v = _pick(self.neutral_variants, rng)
                    new = sents[:pos] + (Sentence(v, True),) + sents[pos:]
                    out.append(Move("distractor", f"insert distractor {v} @ {pos}", WorldState(state.scene, new)))
            for pos, s in enumerate(sents):
                if s.distractor:
                    new = sents[:pos] + sents[pos + 1 :]
                    out.append(Move("distractor", f"drop distractor @ {pos}", WorldState(state.scene, new)))
        if "clause_order" in wanted:
            for pos in range(len(sents) - 1):
                new = sents[:pos] + (sents[pos + 1], sents[pos]) + sents[pos + 2 :]
                out.append(Move("clause_order", f"swap sentences {pos}<->{pos + 1}", WorldState(state.scene, new)))
        return out


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
