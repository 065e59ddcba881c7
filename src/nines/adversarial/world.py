"""Label-preserving attacks inside StoryWorld, checked by its exact oracle.

Every StoryWorld snippet comes from a latent scene, so an attack that moves only between latent
states (see :mod:`nines.adversarial.world_moves`) keeps an exactly known label: a success is an
injurious snippet the filter accepts, measured with no human in the loop. Three searches share one
per-seed query budget: greedy and beam descend on the classifier's score, ``random`` is a random-walk
baseline; :func:`latent_redteam` is the StoryWorld equivalent of model-written red-teaming.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from nines.adversarial.budget import CountingClassifier, QueryBudgetExceeded
from nines.adversarial.result import AttackFind, AttackReport
from nines.adversarial.world_moves import (
    COMPLETION_MOVES,
    PROMPT_MOVES,
    STRUCTURE_MOVES,
    Move,
    Sentence,
    WorldSpace,
    WorldState,
)
from nines.adversarial.world_sampling import sample_states
from nines.classify.base import Classifier
from nines.storyworld.families import FAMILIES
from nines.storyworld.redteam_families import RED_TEAM_FAMILIES
from nines.storyworld.world import StoryWorld

__all__ = [
    "Move", "Sentence", "WorldAttackConfig", "WorldSpace", "WorldState", "latent_redteam", "sample_states", "seed_states",
    "world_attack",
]

METHODS: tuple[str, ...] = ("greedy", "beam", "random")


def _positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class WorldAttackConfig:
    """Settings of :func:`world_attack`.

    Attributes:
        method: ``greedy`` (beam of one), ``beam`` (keep ``beam_width`` states) or ``random`` (random
            walk restarting at the seed every ``max_steps`` moves; the baseline).
        beam_width: states kept per step by ``beam``.
        neighbours_per_step: candidates scored per step (a uniform sample when there are more); the
            random walk scores this many walk states per classifier call.
        max_steps: most moves away from the seed.
        queries_per_seed: classifier queries per seed, including the one that scores the seed itself.
        families: families moves may use (``None``: all); an adversarial-training run passes its
            training families so held-out families stay unseen.
        allow_distractors: allow inserting/removing neutral distractor sentences.
        max_distractors: most distractors in one completion.
        allow_prompt_moves: allow changing prompt fields other than the victim.
        seed: random seed of neighbour sampling and the random walk.
    """

    method: str = "greedy"
    beam_width: int = 4
    neighbours_per_step: int = 64
    max_steps: int = 8
    queries_per_seed: int = 400
    families: tuple[str, ...] | None = None
    allow_distractors: bool = True
    max_distractors: int = 2
    allow_prompt_moves: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        _positive_int("beam_width", self.beam_width)
        _positive_int("neighbours_per_step", self.neighbours_per_step)
        _positive_int("max_steps", self.max_steps)
        _positive_int("queries_per_seed", self.queries_per_seed, 2)
        _positive_int("max_distractors", self.max_distractors, 0)
        if self.families is not None:
            if isinstance(self.families, str):
                raise ValueError("families must be a list of family names (e.g. split.train), not one string")
            self.families = tuple(self.families)
            unknown = [f for f in self.families if f not in FAMILIES and f not in RED_TEAM_FAMILIES]
            if unknown:
                raise ValueError(f"unknown families {unknown}; see StoryWorld.families (and "
                                 "nines.storyworld.redteam_families) for valid names")

    @property
    def move_kinds(self) -> tuple[str, ...]:
        """Move kinds this configuration allows."""
        kinds = COMPLETION_MOVES + (PROMPT_MOVES if self.allow_prompt_moves else ())
        return kinds + tuple(k for k in STRUCTURE_MOVES if self.allow_distractors or k != "distractor")

    def space(self, world: StoryWorld) -> WorldSpace:
        """The state space these settings search."""
        return WorldSpace(world, self.families, self.max_distractors if self.allow_distractors else 0)


def seed_states(
    world: StoryWorld,
    clf: Classifier,
    n: int,
    seed: int = 0,
    families: Iterable[str] | None = None,
    distribution: str = "default",
    batch: int = 20_000,
    max_batches: int = 20,
) -> list[WorldState]:
    """Caught injurious snippets sampled from the world, as attack states.

    Samples batches (restricted to ``families``), keeps coherent injurious rows the filter rejects
    (score above threshold), and reconstructs each row's latent state. May return fewer than ``n``
    when ``max_batches`` batches hold too few caught snippets (a classifier that accepts almost all).
    Scoring here is not counted against any attack budget.

    Args:
        world: the StoryWorld to sample from.
        clf: the classifier under attack (only snippets it rejects become seeds).
        n: number of seeds wanted.
        seed: sampling seed.
        families: restrict the sampled families (pass the attack's ``families``).
        distribution: the world's prompt distribution.
        batch: pairs sampled per round (only injurious coherent ones are scored).
        max_batches: rounds before giving up.

    Returns:
        Up to ``n`` single-sentence states, each injurious by construction and by the world's oracle.
    """
    _positive_int("n", n, 0)
    fams = None if families is None else tuple(families)
    space = WorldSpace(world, fams, max_distractors=0)
    out: list[WorldState] = []
    for b in range(max_batches):
        if len(out) >= n:
            break
        sb = world.sample(batch, seed=seed * 1_000_003 + b, distribution=distribution, families=fams)
        rows = np.flatnonzero(sb.injurious & sb.coherent)
        if len(rows) == 0:
            continue
        scores = np.asarray(clf.score([sb.prompts[i] for i in rows], [sb.completions[i] for i in rows]))
        for i in rows[scores > clf.threshold].tolist():
            state = space.from_snippet(int(sb.scene_id[i]), int(sb.family[i]), sb.completions[i])
            if state is None or space.render(state) != (sb.prompts[i], sb.completions[i]):
                raise RuntimeError(f"could not reconstruct the latent state of {sb.completions[i]!r}")
            if not space.label(state) or world.label(space.prompt_object(state), space.completion(state)) is not True:
                raise RuntimeError("reconstructed state disagrees with the world's oracle")
            out.append(state)
            if len(out) >= n:
                break
    return out


class _Search:
    """One seed's search under a per-seed CountingClassifier (shared state of the three methods)."""

    def __init__(self, space: WorldSpace, cc: CountingClassifier, cfg: WorldAttackConfig, rng: np.random.Generator):
        self.space, self.cc, self.cfg, self.rng = space, cc, cfg, rng
        self.kinds = cfg.move_kinds
        self.pending = 0
        self.texts: set[tuple[str, str]] = set()

    def score(self, states: Sequence[WorldState]) -> np.ndarray:
        prompts, completions = self.space.render_many(states)
        self.pending = len(states)  # charged by cc even if an outer budget then refuses the call
        scores = self.cc.score(prompts, completions)
        self.pending = 0
        return scores

    def _take(self, n: int) -> int:
        """How many of ``n`` candidates the remaining budget can score."""
        left = self.cc.remaining
        return n if left is None else min(n, left)

    def beam(self, seed: WorldState, width: int) -> tuple[WorldState, float, list[str]] | None:
        """Keep the ``width`` lowest-scoring new neighbours each step; return the first accepted one."""
        beam: list[tuple[WorldState, list[str]]] = [(seed, [])]
        seen = {seed}
        self.texts = {self.space.render(seed)}
        for _ in range(self.cfg.max_steps):
            cands: dict[WorldState, list[str]] = {}
            for state, edits in beam:
                for mv in self.space.neighbours(state, self.rng, self.kinds):
                    if mv.state not in seen and mv.state not in cands:
                        cands[mv.state] = [*edits, mv.desc]
            # Some moves leave the text unchanged (a weapon nobody mentions): never pay for a repeat.
            fresh: dict[tuple[str, str], WorldState] = {}
            for state in cands:
                fresh.setdefault(self.space.render(state), state)
            states = [s for t, s in fresh.items() if t not in self.texts]
            if len(states) > self.cfg.neighbours_per_step:
                pick = self.rng.choice(len(states), self.cfg.neighbours_per_step, replace=False)
                states = [states[i] for i in pick]
            else:
                # Random order so ties (a flat score) are broken at random by the stable sort below.
                states = [states[i] for i in self.rng.permutation(len(states))]
            states = states[: self._take(len(states))]
            if not states:
                return None
            seen.update(states)
            self.texts.update(self.space.render(s) for s in states)
            scores = self.score(states)
            order = np.argsort(scores, kind="stable")
            best = int(order[0])
            if scores[best] <= self.cc.threshold:
                return states[best], float(scores[best]), cands[states[best]]
            beam = [(states[i], cands[states[i]]) for i in order[:width].tolist()]
        return None

    def random_move(self, state: WorldState) -> Move | None:
        """A uniform move kind among those with any move here, then a uniform move of that kind.

        Why by kind: listing every neighbour costs ~100 objects per step, and a uniform pick over that
        list would mostly change the menace line or the place (the kinds with the most options).
        """
        for i in self.rng.permutation(len(self.kinds)).tolist():
            moves = self.space.neighbours(state, self.rng, (self.kinds[i],))
            if moves:
                return moves[int(self.rng.integers(0, len(moves)))]
        return None

    def random_walk(self, seed: WorldState) -> tuple[WorldState, float, list[str]] | None:
        """Random walk from the seed (restarting every ``max_steps`` moves), scored in batches.

        Walking is free; only snippets not scored before cost a query. Gives up (``None``) when the
        budget is spent or a long walk finds nothing new (a tiny reachable space).
        """
        path: list[str] = []
        state = seed
        self.texts = {self.space.render(seed)}
        while True:
            chunk: list[tuple[WorldState, list[str]]] = []
            want = self._take(self.cfg.neighbours_per_step)
            for _ in range(50 * want):
                if len(chunk) >= want:
                    break
                if len(path) >= self.cfg.max_steps:
                    state, path = seed, []
                mv = self.random_move(state)
                if mv is None:
                    return None
                state, path = mv.state, [*path, mv.desc]
                text = self.space.render(state)
                if text not in self.texts:
                    self.texts.add(text)
                    chunk.append((state, path))
            if not chunk:
                return None
            scores = self.score([s for s, _ in chunk])
            hits = np.flatnonzero(scores <= self.cc.threshold)
            if len(hits):
                state, edits = chunk[int(hits[0])]
                return state, float(scores[hits[0]]), edits


def _checked_seeds(space: WorldSpace, seeds: Sequence[WorldState]) -> None:
    for k, s in enumerate(seeds):
        try:
            space.validate(s)
        except ValueError as err:
            raise ValueError(f"seed {k}: {err}") from None
        if not space.label(s):
            raise ValueError(f"seed {k} is not injurious; attack only injurious snippets (see seed_states)")


def world_attack(
    world: StoryWorld,
    clf: Classifier,
    seeds: Sequence[WorldState],
    config: WorldAttackConfig | None = None,
    progress: bool = False,
) -> AttackReport:
    """Search the latent space around each caught seed for an injurious snippet the filter accepts.

    Each seed gets its own budget of ``config.queries_per_seed`` queries (one of them scores the
    seed); a seed the filter already accepts is skipped and not counted in ``report.seeds``. Every
    find has ``label=True`` by construction (single-sentence finds are re-checked with
    the world's oracle). If ``clf`` is itself a budgeted CountingClassifier, the run stops when that
    outer budget runs out and reports what it found so far.

    Args:
        world: the StoryWorld the seeds come from.
        clf: the classifier under attack.
        seeds: caught injurious states (see :func:`seed_states`) within ``config.families``.
        config: search settings (defaults: greedy, 400 queries per seed).
        progress: show a progress bar over seeds.

    Returns:
        An :class:`AttackReport` (method ``world-<search>``) with at most one find per seed.
    """
    cfg = config or WorldAttackConfig()
    space = cfg.space(world)
    _checked_seeds(space, seeds)
    rng = np.random.default_rng(cfg.seed)
    report = AttackReport(method=f"world-{cfg.method}", seeds=0, budget=cfg.queries_per_seed * len(seeds))
    started = time.perf_counter()
    for seed in tqdm(seeds, desc=f"world {cfg.method}", disable=not progress):
        cc = CountingClassifier(clf, budget=cfg.queries_per_seed)
        search = _Search(space, cc, cfg, rng)
        try:
            seed_score = float(search.score([seed])[0])
            if seed_score > cc.threshold:
                report.seeds += 1
                width = 1 if cfg.method == "greedy" else cfg.beam_width
                hit = search.random_walk(seed) if cfg.method == "random" else search.beam(seed, width)
            else:
                hit = None
        except QueryBudgetExceeded:  # an outer budget (clf itself counting) ran out
            report.queries += cc.queries - search.pending
            break
        report.queries += cc.queries
        if hit is not None:
            report.finds.append(_find(space, seed, seed_score, hit, cfg.method, report.queries, started))
    report.seconds = time.perf_counter() - started
    return report


def _find(
    space: WorldSpace, seed: WorldState, seed_score: float, hit: tuple[WorldState, float, list[str]],
    search: str, queries: int, started: float,
) -> AttackFind:
    state, score, edits = hit
    prompt, completion = space.prompt_object(state), space.completion(state)
    if not space.label(state):
        raise RuntimeError("a world move changed the label; this is a bug in world_moves")
    if len(state.sentences) == 1 and space.world.label(prompt, completion) is not True:
        raise RuntimeError(f"the world's oracle disagrees with the latent label of {completion!r}")
    p0, c0 = space.render(seed)
    meta = {**space.describe(state), "search": search, "seed": space.describe(seed)}
    return AttackFind(prompt=prompt.text, prompt_id=prompt.id, completion=completion, score=score, original_prompt=p0, original_completion=c0,
                      original_score=seed_score, method="world", edits=edits, queries=queries,
                      seconds=time.perf_counter() - started, label=True, metadata=meta)


def latent_redteam(
    world: StoryWorld,
    clf: Classifier,
    n_queries: int,
    families: Iterable[str] | None = None,
    seed: int = 0,
    batch: int = 256,
    distribution: str = "default",
    distractor_rate: float = 0.5,
    max_distractors: int = 2,
) -> AttackReport:
    """Red-team from the latent space: score fresh injurious snippets; every accepted one is a find.

    Snippets are drawn from the world's distribution conditioned on an injurious label (sentient
    victims, injurious outcomes, allowed families only), half of them (``distractor_rate``) with 1 to
    ``max_distractors`` neutral distractors; they are scored in batches of ``batch`` until
    ``n_queries`` snippets have been scored. Each scored snippet counts as one seed, so
    ``report.success_rate()`` is the filter's miss rate on this distribution.

    Args:
        world: the StoryWorld to sample from.
        clf: the classifier under attack.
        n_queries: snippets to score (the query budget).
        families: families the snippets may use (``None``: all).
        seed: sampling seed.
        batch: snippets per classifier call.
        distribution: the world's prompt distribution for scenes.
        distractor_rate: share of snippets given neutral distractor sentences.
        max_distractors: most distractors per snippet.
    """
    _positive_int("n_queries", n_queries, 0)
    _positive_int("batch", batch)
    if not 0.0 <= distractor_rate <= 1.0:
        raise ValueError(f"distractor_rate must be in [0, 1], got {distractor_rate!r}")
    space = WorldSpace(world, None if families is None else tuple(families), max_distractors)
    rng = np.random.default_rng(seed)
    cc = CountingClassifier(clf, budget=n_queries)
    report = AttackReport(method="latent_redteam", seeds=0, budget=n_queries)
    while cc.remaining:
        states = sample_states(space, min(batch, int(cc.remaining)), rng, distribution, "injurious", distractor_rate)
        prompts, completions = space.render_many(states)
        try:
            scores = cc.score(prompts, completions)
        except QueryBudgetExceeded:  # an outer budget (clf itself counting) ran out
            cc.queries -= len(states)
            break
        report.seeds += len(states)
        for i in np.flatnonzero(scores <= cc.threshold).tolist():
            if not space.label(states[i]):
                raise RuntimeError("latent_redteam sampled a safe state; this is a bug in sample_states")
            s = float(scores[i])
            report.finds.append(AttackFind(
                prompt=prompts[i], prompt_id=space.prompt_object(states[i]).id, completion=completions[i], score=s,
                original_prompt=prompts[i], original_completion=completions[i], original_score=s, method="latent_redteam",
                queries=cc.queries - len(states) + i + 1, seconds=cc.seconds, label=True,
                metadata=space.describe(states[i]),
            ))
    report.queries, report.seconds = cc.queries, cc.seconds
    return report
