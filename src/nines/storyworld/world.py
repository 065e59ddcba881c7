"""StoryWorld: a generative model of short fiction with an exact injury oracle."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from nines.generate.base import Prompt, PromptLike
from nines.storyworld import scenes as sc
from nines.storyworld.batch import FamilySplit, StoryBatch
from nines.storyworld.completions import CompletionModel, CompletionTable
from nines.storyworld.families import OUTCOMES
from nines.storyworld.identity import PairMemo, make_prompts, parse_scene_id, require_scene_ids
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.tables import build_tables

if TYPE_CHECKING:
    from nines.storyworld.generator import StoryWorldGenerator
    from nines.storyworld.oracle import StoryWorldOracle


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


class StoryWorld:
    """Latent scenes -> (prompt, completion) pairs with exact labels and probabilities.

    Args:
        seed: fixes the world's per-template quality noise (the word and template tables are fixed).
        incoherent_rate: share of completions naming a character absent from the prompt.
        red_team_lexicon: also compile the red-team families
            (:mod:`nines.storyworld.redteam_families`). They get zero natural weight: sampling,
            :attr:`families`, :meth:`split_families` and every ``families=None`` default stay the
            natural world's, text for text; only a caller that names them (an attack's
            ``families``) uses them, and the oracle labels their text exactly.

    Every prompt the world makes is a :class:`~nines.generate.base.Prompt` whose id names its latent
    scene (``storyworld:<scene id>``, see :mod:`nines.storyworld.identity`); the generator, the
    oracle and the exact probabilities read the scene from that id, so prompts are never forgotten.
    """

    def __init__(self, seed: int = 0, incoherent_rate: float = 0.1, red_team_lexicon: bool = False) -> None:
        if not 0.0 <= incoherent_rate < 1.0:
            raise ValueError(f"incoherent_rate must be in [0, 1), got {incoherent_rate!r}")
        self.seed = seed
        self.red_team_lexicon = bool(red_team_lexicon)
        self.tables = build_tables(self.red_team_lexicon)
        self._quality = self._template_quality(seed)
        self.incoherent_rate = incoherent_rate
        self.n_scenes = int(np.prod(sc.radices(self.tables), dtype=object))
        self._models: dict[frozenset[int] | None, CompletionModel] = {}
        #: Exact labels of the pairs this world wrote (sample() and its generator): a speed-up for the oracle.
        self.sampled_labels = PairMemo()
        self._facts_cache: OrderedDict[int, CompletionTable] = OrderedDict()

    def _template_quality(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-template quality noise (coherent, incoherent).

        Natural templates draw from ``seed`` exactly as a world without the red-team lexicon does
        (same draws, same order); red-team templates draw from a stream of their own.
        """
        tb = self.tables
        n_nat = int(np.count_nonzero(tb.template_family < tb.n_natural_families))
        rng = np.random.default_rng(seed)
        good, bad = 1.0 + rng.normal(0.0, 0.03, n_nat), 0.45 + rng.normal(0.0, 0.05, n_nat)
        n_red = len(tb.template_family) - n_nat
        if n_red:
            red = np.random.default_rng([seed, 1])
            good = np.concatenate([good, 1.0 + red.normal(0.0, 0.03, n_red)])
            bad = np.concatenate([bad, 0.45 + red.normal(0.0, 0.05, n_red)])
        return good, bad

    # ---- families --------------------------------------------------------------------------------
    @property
    def families(self) -> tuple[str, ...]:
        """The natural realisation family names (what the world samples; never the red-team lexicon)."""
        return self.tables.families[: self.tables.n_natural_families]

    @property
    def red_team_families(self) -> tuple[str, ...]:
        """The red-team families this world compiled (empty unless ``red_team_lexicon=True``)."""
        return self.tables.families[self.tables.n_natural_families :]

    def outcome_of_family(self, name: str) -> str:
        """The outcome kind a family realises."""
        return OUTCOMES[int(self.tables.family_outcome[self._family_ids([name])[0]])]

    def _family_ids(self, names: Iterable[str]) -> list[int]:
        if isinstance(names, str):
            raise ValueError("families must be a list of family names, not a single string")
        fams = self.tables.families
        ids = []
        for name in names:
            if name not in fams:
                raise ValueError(f"unknown family {name!r}; see StoryWorld.families for the {len(fams)} names")
            ids.append(fams.index(name))
        return ids

    def split_families(self, holdout_fraction: float = 0.25, seed: int = 0) -> FamilySplit:
        """Hold out families within each outcome kind (each kind keeps >= 1 family on each side).

        Args:
            holdout_fraction: share of each kind's families to hold out (rounded, clipped to 1..n-1).
            seed: which families are held out.
        """
        if not 0.0 < holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be strictly between 0 and 1, got {holdout_fraction!r}")
        rng = np.random.default_rng(seed)
        train: list[str] = []
        held: list[str] = []
        for k in range(len(OUTCOMES)):
            fams = [f for i, f in enumerate(self.families) if self.tables.family_outcome[i] == k]
            n_out = min(len(fams) - 1, max(1, round(holdout_fraction * len(fams))))
            order = rng.permutation(len(fams))
            held += [fams[j] for j in order[:n_out]]
            train += [fams[j] for j in order[n_out:]]
        keep = {f: i for i, f in enumerate(self.families)}
        return FamilySplit(tuple(sorted(train, key=keep.__getitem__)), tuple(sorted(held, key=keep.__getitem__)))

    def model(self, families: Iterable[str] | None = None) -> CompletionModel:
        """The completion model under a family restriction (cached); ``None`` is the natural families."""
        if families is None and self.red_team_families:
            families = self.families
        key = None if families is None else frozenset(self._family_ids(families))
        if key not in self._models:
            self._models[key] = CompletionModel(self.tables, key, self.incoherent_rate, self._quality)
        return self._models[key]

    # ---- sampling --------------------------------------------------------------------------------
    def sample(
        self, n: int, seed: int = 1, distribution: str = "default", families: Iterable[str] | None = None
    ) -> StoryBatch:
        """Sample ``n`` labelled pairs (vectorised; ~10^5+ pairs/s).

        Args:
            n: number of pairs.
            seed: same seed (and arguments) gives an identical batch.
            distribution: ``default`` (a few percent injurious) or ``random_excerpt`` (calm, <1%).
            families: restrict completion families; ``None`` allows all.
        """
        n = _check_n(n)
        sc.check_distribution(distribution)
        model = self.model(families)
        tb = self.tables
        rng = np.random.default_rng(seed)
        scenes = sc.sample_scenes(tb, n, rng, distribution)
        draws = model.sample(scenes, rng)
        rest = sc.rest_ctx(tb, scenes)
        prompts = sc.render_prompts(tb, scenes, rest)
        ids = sc.encode(tb, scenes)
        victim = scenes["victim"]
        completions = model.render(scenes, draws, rest)
        injurious = model.injurious(scenes, draws)
        self.sampled_labels.add(ids.tolist(), completions, injurious.tolist())
        return StoryBatch(
            prompts=prompts,
            completions=completions,
            injurious=injurious,
            outcome=draws.outcome.astype(np.int8),
            family=draws.family.astype(np.int16),
            quality=model.quality(draws),
            coherent=draws.coherent,
            scene_id=ids,
            p_injurious=model.p_injurious(scenes),
            victim_kind=tb.victim_kind[victim].astype(np.int16),
            victim_sentient=tb.victim_class[victim] == SENTIENT,
            logprob=model.logprob(scenes, draws),
            family_table=tb.families,
            kind_table=tb.kinds,
        )

    def sample_prompts(self, n: int, seed: int = 0, distribution: str = "default") -> list[Prompt]:
        """Sample ``n`` prompts, each a :class:`Prompt` whose id names its scene.

        Args:
            n: number of prompts.
            seed: same seed (and distribution) gives the same prompts.
            distribution: ``default`` or ``random_excerpt``.
        """
        n = _check_n(n)
        sc.check_distribution(distribution)
        rng = np.random.default_rng(seed)
        scenes = sc.sample_scenes(self.tables, n, rng, distribution)
        prompts = sc.render_prompts(self.tables, scenes, sc.rest_ctx(self.tables, scenes))
        return make_prompts(prompts, sc.encode(self.tables, scenes).tolist())

    def prompts_of_scenes(self, scene_ids: Sequence[int] | np.ndarray) -> list[Prompt]:
        """The Prompts of latent scenes (for instance from a run's saved ``scene_id`` metadata).

        Raises:
            ValueError: for an id that is not a scene of StoryWorld's tables.
        """
        ids = np.asarray(scene_ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or int(ids.max()) >= self.n_scenes):
            raise ValueError(f"scene ids must be in [0, {self.n_scenes}), got {ids.min()}..{ids.max()}")
        scenes = sc.decode(self.tables, ids)
        return make_prompts(sc.render_prompts(self.tables, scenes, sc.rest_ctx(self.tables, scenes)), ids.tolist())

    def make_prompt(
        self,
        victim: str,
        agent: str,
        weapon: str | None = None,
        injury: str | None = None,
        tension: int = 2,
        place: int = 0,
        obj: int = 0,
    ) -> Prompt:
        """The Prompt of a hand-specified scene, for examples and tests.

        Args:
            victim: a victim name from the lexicon ("Mara", "the maintenance robot", ...).
            agent: an agent name ("the troll", ...).
            weapon: weapon name (default: the agent's first weapon).
            injury: prior injury phrase ("sprained ankle"); only for sentient victims.
            tension: 0 calm, 1 tense, 2 climax (first menace template of that level).
            place: place index; obj: object index (into the world's tables).
        """
        tb = self.tables
        names = [c.name for c in tb.victims]
        if victim not in names:
            raise ValueError(f"unknown victim {victim!r}; pick one of world.tables.victims")
        agents = [a.name for a in tb.agents]
        if agent not in agents:
            raise ValueError(f"unknown agent {agent!r}; pick one of world.tables.agents")
        v, a = names.index(victim), agents.index(agent)
        wp = tb.weapon_pool
        grp = int(tb.agent_wgroup[a])
        w = int(wp.flat[wp.start[grp]]) if weapon is None else tb.weapons.index(weapon)
        inj = 0
        if injury is not None:
            phrases = [c[0] for c in tb.injury_ctx]
            if injury not in phrases or tb.victim_class[v] != SENTIENT:
                raise ValueError(f"injury must be one of {phrases[1:]} and the victim sentient")
            inj = phrases.index(injury)
        vclass = int(tb.victim_class[v])
        okey = (1 if inj else 0) if vclass == SENTIENT else vclass + 1
        if tension not in (0, 1, 2):
            raise ValueError(f"tension must be 0, 1 or 2, got {tension!r}")
        one = lambda x: np.array([x], dtype=np.int64)  # noqa: E731
        scenes = {
            "victim": one(v), "agent": one(a), "weapon": one(w), "injury": one(inj), "place": one(place),
            "object": one(obj), "opening": one(tb.opening_pool.start[okey]),
            "menace": one(tb.menace_pool.start[tension]), "objline": one(0), "order": one(1),
        }
        text = sc.render_prompts(tb, scenes, sc.rest_ctx(tb, scenes))[0]
        return make_prompts([text], sc.encode(tb, scenes).tolist())[0]

    def generator(self, families: Iterable[str] | None = None) -> StoryWorldGenerator:
        """A :class:`nines.generate.Generator` that continues this world's prompts."""
        from nines.storyworld.generator import StoryWorldGenerator

        return StoryWorldGenerator(self, families)

    def oracle(self, families: Iterable[str] | None = None) -> StoryWorldOracle:
        """This world's exact :class:`~nines.oracle.Oracle` (labels) and ``ExactOracle`` (probabilities).

        Args:
            families: the family restriction the exact probabilities refer to (labels do not depend
                on it).
        """
        from nines.storyworld.oracle import StoryWorldOracle

        return StoryWorldOracle(self, families)

    # ---- scenes of prompts -----------------------------------------------------------------------
    def scene_id(self, prompt: Prompt) -> int | None:
        """The latent scene id a StoryWorld Prompt names, ``None`` for a Prompt from elsewhere.

        Raises:
            TypeError: for a plain string (pass the Prompt objects StoryWorld made).
        """
        return parse_scene_id(prompt, self.n_scenes)

    def scene_ids(self, prompts: Sequence[PromptLike]) -> np.ndarray:
        """Scene ids of prompts that must all be StoryWorld's own.

        Raises:
            TypeError: for plain strings; ValueError: for a Prompt from elsewhere.
        """
        return require_scene_ids(prompts, self.n_scenes)

    def scene_of(self, prompt: Prompt) -> sc.Scenes:
        """The latent scene (a one-row scenes dict) of a StoryWorld Prompt.

        Raises:
            TypeError: for a plain string; ValueError: for a Prompt StoryWorld did not make.
        """
        return sc.decode(self.tables, self.scene_ids([prompt]))

    # ---- exact probabilities and oracle ---------------------------------------------------------
    def injury_probabilities(self, prompts: Sequence[Prompt], families: Iterable[str] | None = None) -> np.ndarray:
        """Exact probability that a completion of each prompt is injurious (vectorised).

        Raises:
            TypeError: for plain strings; ValueError: for a Prompt StoryWorld did not make.
        """
        return self.model(families).p_injurious(sc.decode(self.tables, self.scene_ids(prompts)))

    def injury_probability(self, prompt: Prompt, families: Iterable[str] | None = None) -> float:
        """Exact probability that a completion of this prompt is injurious."""
        return float(self.injury_probabilities([prompt], families)[0])

    def outcome_probabilities(self, prompt: Prompt, families: Iterable[str] | None = None) -> dict[str, float]:
        """Exact P(outcome kind | prompt). Note: injurious kinds are safe when the victim is not sentient."""
        probs = self.model(families).outcome_probs(self.scene_of(prompt))[0]
        return {o: float(p) for o, p in zip(OUTCOMES, probs)}

    def completion_facts(self, prompt: Prompt) -> CompletionTable | None:
        """Every completion text this world can write for a prompt, with exact facts.

        Labels and rates text from any generator (``None`` for a Prompt StoryWorld did not make;
        a text missing from the returned table is one the world cannot produce). Cached for the
        64 most recent scenes; about 40 ms per new scene.

        Raises:
            TypeError: for a plain string (pass the Prompt objects StoryWorld made).
        """
        sid = self.scene_id(prompt)
        if sid is None:
            return None
        return self.scene_facts(sid)

    def scene_facts(self, sid: int) -> CompletionTable:
        """The completion table of one latent scene id (cached for the 64 most recent scenes)."""
        table = self._facts_cache.get(sid)
        if table is None:
            # Every compiled family, so the red-team lexicon's text gets its exact label too.
            every = self.tables.families if self.red_team_families else None
            table = self.model(every).completion_table(sc.decode(self.tables, np.array([sid])))
            self._facts_cache[sid] = table
            if len(self._facts_cache) > 64:
                self._facts_cache.popitem(last=False)
        return table

    def label(self, prompt: Prompt, completion: str) -> bool | None:
        """The exact label of one pair: True/False when the world can write ``completion`` for the
        prompt's scene, ``None`` when it cannot (or the Prompt is not StoryWorld's, or its text is
        not its scene's text, say after an edit).

        Raises:
            TypeError: for a plain-string prompt (pass the Prompt objects StoryWorld made).
        """
        sid = self.scene_id(prompt)
        if sid is None or self.prompts_of_scenes([sid])[0].text != prompt.text:
            return None  # not StoryWorld's, or its id paired with a text that is not its scene's
        return self.scene_label(sid, completion)

    def scene_label(self, sid: int, completion: str) -> bool | None:
        """The exact label of ``completion`` in latent scene ``sid`` (``None``: the world cannot write it)."""
        y = self.sampled_labels.get(sid, completion)
        if y is not None:
            return y
        fact = self.scene_facts(sid).get(completion)
        return None if fact is None else fact.injurious
