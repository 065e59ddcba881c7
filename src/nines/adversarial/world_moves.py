"""Label-preserving moves between latent attack states in StoryWorld.

Because every choice of a :class:`~nines.adversarial.world_state.WorldState` is latent, the label
is known by construction: injurious iff the victim is sentient and some sentence realises an
injurious outcome. :class:`WorldSpace` renders states to exactly the text the world would produce
(and to the StoryWorld :class:`~nines.generate.base.Prompt` naming the state's scene) and lists each
state's neighbours under moves that keep that label and never leave an allowed family set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nines.adversarial.world_state import (
    COMPLETION_MOVES,
    MOVE_KINDS,
    PROMPT_MOVES,
    STRUCTURE_MOVES,
    Move,
    Sentence,
    WorldState,
)
from nines.generate.base import Prompt
from nines.storyworld import scenes as sc
from nines.storyworld.families import OUTCOMES
from nines.storyworld.identity import scene_prompt_id
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.tables import Pool
from nines.storyworld.world import StoryWorld

__all__ = ["COMPLETION_MOVES", "MOVE_KINDS", "PROMPT_MOVES", "STRUCTURE_MOVES", "Move", "Sentence", "WorldSpace",
           "WorldState"]

_NEUTRAL = OUTCOMES.index("neutral")
_PROMPT_FIELD = {"prompt_order": "order"}


def _pick(items: Sequence[int], rng: np.random.Generator) -> int:
    """A uniform member (faster than ``rng.choice`` on short lists)."""
    return int(items[int(rng.integers(0, len(items)))])


def _members(pool: Pool, group: int) -> list[int]:
    start = int(pool.start[group])
    return pool.flat[start : start + int(pool.length[group])].tolist()


class WorldSpace:
    """Renders :class:`WorldState` s and lists their label-preserving neighbours.

    Args:
        world: the StoryWorld whose tables render the text (and whose oracle can check states).
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
        """The prompt text, rendered by the world's own renderer (cached per scene)."""
        text = self._prompts.get(state.scene)
        if text is None:
            scenes = self.scene_arrays(state)
            text = sc.render_prompts(self.tables, scenes, sc.rest_ctx(self.tables, scenes))[0]
            if len(self._prompts) > 200_000:  # bound memory on very long runs
                self._prompts.clear()
            self._prompts[state.scene] = text
        return text

    def prompt_object(self, state: WorldState) -> Prompt:
        """The StoryWorld Prompt of the state's scene (what the world's generator and oracle take).

        Scenes that differ only in a weapon the menace line does not show share a text; the id
        keeps them apart.
        """
        sid = self.scene_id(state)
        return Prompt(scene_prompt_id(sid), self.prompt(state), {"scene_id": sid})

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

