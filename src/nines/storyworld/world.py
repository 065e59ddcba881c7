"""StoryWorld: a generative model of short fiction with an exact injury oracle."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from nines.storyworld import scenes as sc
from nines.storyworld.batch import FamilySplit, StoryBatch
from nines.storyworld.completions import CompletionModel, CompletionTable
from nines.storyworld.families import OUTCOMES
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.tables import build_tables

if TYPE_CHECKING:
    from nines.storyworld.generator import StoryWorldGenerator

UNKNOWN_PROMPT = (
    "StoryWorld only continues prompts made by StoryWorld.sample_prompts/sample "
    "(of this world, and recent enough to be remembered); got {!r}"
)


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


class StoryWorld:
    """Latent scenes -> (prompt, completion) pairs with exact labels and probabilities.

    Args:
        seed: fixes the world's per-template quality noise (the word and template tables are fixed).
        incoherent_rate: share of completions naming a character absent from the prompt.
        remember: how many recently sampled prompts are kept for lookup by ``injury_probability``,
            ``oracle`` and the generator (older ones are forgotten to bound memory).
    """

    def __init__(self, seed: int = 0, incoherent_rate: float = 0.1, remember: int = 200_000) -> None:
        if not 0.0 <= incoherent_rate < 1.0:
            raise ValueError(f"incoherent_rate must be in [0, 1), got {incoherent_rate!r}")
        self.seed = seed
        self.tables = build_tables()
        ntmpl = len(self.tables.template_family)
        rng = np.random.default_rng(seed)
        self._quality = (1.0 + rng.normal(0.0, 0.03, ntmpl), 0.45 + rng.normal(0.0, 0.05, ntmpl))
        self.incoherent_rate = incoherent_rate
        self.remember = _check_n(remember)
        self._models: dict[frozenset[int] | None, CompletionModel] = {}
        self._prompt_ids: OrderedDict[str, int] = OrderedDict()
        self._pending: deque[tuple[list[str], np.ndarray]] = deque()
        self._pending_rows = 0
        self._pair_labels: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._facts_cache: OrderedDict[int, CompletionTable] = OrderedDict()

    # ---- families --------------------------------------------------------------------------------
    @property
    def families(self) -> tuple[str, ...]:
        """All realisation family names."""
        return self.tables.families

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
        """The completion model under a family restriction (cached)."""
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
        self._remember_batch(prompts, ids)
        victim = scenes["victim"]
        return StoryBatch(
            prompts=prompts,
            completions=model.render(scenes, draws, rest),
            injurious=model.injurious(scenes, draws),
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

    def sample_prompts(self, n: int, seed: int = 0, distribution: str = "default") -> list[str]:
        """Sample ``n`` prompts; the world remembers their scenes so they can be continued."""
        n = _check_n(n)
        sc.check_distribution(distribution)
        rng = np.random.default_rng(seed)
        scenes = sc.sample_scenes(self.tables, n, rng, distribution)
        prompts = sc.render_prompts(self.tables, scenes, sc.rest_ctx(self.tables, scenes))
        ids = sc.encode(self.tables, scenes)
        for p, i in zip(prompts, ids.tolist()):
            self._prompt_ids[p] = i
            self._prompt_ids.move_to_end(p)
        self._trim()
        return prompts

    def make_prompt(
        self,
        victim: str,
        agent: str,
        weapon: str | None = None,
        injury: str | None = None,
        tension: int = 2,
        place: int = 0,
        obj: int = 0,
    ) -> str:
        """Render (and remember) the prompt of a hand-specified scene, for examples and tests.

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
        prompt = sc.render_prompts(tb, scenes, sc.rest_ctx(tb, scenes))[0]
        self._prompt_ids[prompt] = int(sc.encode(tb, scenes)[0])
        self._trim()
        return prompt

    def generator(self, families: Iterable[str] | None = None) -> StoryWorldGenerator:
        """A :class:`nines.generate.Generator` that continues this world's prompts."""
        from nines.storyworld.generator import StoryWorldGenerator

        return StoryWorldGenerator(self, families)

    # ---- scene memory ----------------------------------------------------------------------------
    def remember_prompts(self, prompts: Sequence[str], scene_ids: Sequence[int], overwrite: bool = False) -> None:
        """Make prompts this world produced long ago known again, from their latent scene ids.

        The world remembers only the last ``remember`` prompts; a later analysis (for instance of a
        run's failures, whose ``Completion.meta["scene_id"]`` was kept) re-registers them here.

        Args:
            prompts: prompt texts.
            scene_ids: their latent scene ids.
            overwrite: index them now, replacing the scene an identical prompt text already maps to.
                Scenes that differ only in a weapon the menace line does not show render the same
                prompt, and a lookup otherwise keeps the mapping it already has (used by attacks that
                move between such scenes).
        """
        if len(prompts) != len(scene_ids):
            raise ValueError(f"got {len(prompts)} prompts but {len(scene_ids)} scene ids")
        if overwrite:
            self._flush_pending()  # an older pending entry must not overwrite these later
            for p, i in zip(prompts, np.asarray(scene_ids, dtype=np.int64).tolist()):
                self._prompt_ids[p] = i
                self._prompt_ids.move_to_end(p)
            self._trim()
            return
        self._remember_batch(list(prompts), np.asarray(scene_ids, dtype=np.int64))

    def _remember_batch(self, prompts: list[str], ids: np.ndarray) -> None:
        # Lazy: keep references and index them only when a lookup misses (keeps sample() fast).
        if self.remember == 0:
            return
        if len(prompts) > self.remember:
            prompts, ids = prompts[-self.remember :], ids[-self.remember :]
        self._pending.append((prompts, ids))
        self._pending_rows += len(prompts)
        while self._pending_rows > self.remember:
            old = self._pending.popleft()
            self._pending_rows -= len(old[0])

    def _trim(self) -> None:
        while len(self._prompt_ids) > max(self.remember, 1):
            self._prompt_ids.popitem(last=False)

    def scene_id_of(self, prompt_text: str) -> int | None:
        """The latent scene id of a prompt this world produced, else ``None``."""
        sid = self._prompt_ids.get(prompt_text)
        if sid is None and self._pending:
            self._flush_pending()
            sid = self._prompt_ids.get(prompt_text)
        return sid

    def _flush_pending(self) -> None:
        for prompts, ids in self._pending:
            self._prompt_ids.update(zip(prompts, ids.tolist()))
        self._pending.clear()
        self._pending_rows = 0
        self._trim()

    def scene_of(self, prompt_text: str) -> sc.Scenes:
        """The latent scene (a one-row scenes dict) of a prompt; ValueError if unknown."""
        sid = self.scene_id_of(prompt_text)
        if sid is None:
            raise ValueError(UNKNOWN_PROMPT.format(prompt_text[:80]))
        return sc.decode(self.tables, np.array([sid]))

    # ---- exact probabilities and oracle ---------------------------------------------------------
    def injury_probability(self, prompt_text: str, families: Iterable[str] | None = None) -> float:
        """Exact probability that a completion of this prompt is injurious."""
        return float(self.model(families).p_injurious(self.scene_of(prompt_text))[0])

    def outcome_probabilities(self, prompt_text: str, families: Iterable[str] | None = None) -> dict[str, float]:
        """Exact P(outcome kind | prompt). Note: injurious kinds are safe when the victim is not sentient."""
        probs = self.model(families).outcome_probs(self.scene_of(prompt_text))[0]
        return {o: float(p) for o, p in zip(OUTCOMES, probs)}

    def _record_pairs(self, pairs: Iterable[tuple[str, str, bool]]) -> None:
        for p, c, y in pairs:
            self._pair_labels[(p, c)] = y
        while len(self._pair_labels) > max(self.remember, 1):
            self._pair_labels.popitem(last=False)

    def completion_facts(self, prompt_text: str) -> CompletionTable | None:
        """Every completion text this world can write for a remembered prompt, with exact facts.

        Labels and rates text from any generator (``None`` for a prompt the world does not know;
        a text missing from the returned table is one the world cannot produce). Cached for the
        64 most recent scenes; about 15 ms per new scene.
        """
        sid = self.scene_id_of(prompt_text)
        if sid is None:
            return None
        table = self._facts_cache.get(sid)
        if table is None:
            table = self.model(None).completion_table(sc.decode(self.tables, np.array([sid])))
            self._facts_cache[sid] = table
            if len(self._facts_cache) > 64:
                self._facts_cache.popitem(last=False)
        return table

    def oracle(self, prompt_text: str, completion_text: str) -> bool | None:
        """True/False for a pair this world can produce from a remembered prompt, else ``None``."""
        y = self._pair_labels.get((prompt_text, completion_text))
        if y is not None:
            return y
        facts = self.completion_facts(prompt_text)
        if facts is None:
            return None
        fact = facts.get(completion_text)
        return None if fact is None else fact.injurious
