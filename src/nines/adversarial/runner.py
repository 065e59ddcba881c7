"""Run any of the attacks by name: the library side of ``nines attack``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from nines.adversarial.result import AttackReport
from nines.adversarial.rewrite import PARAPHRASE_TEMPLATE, REDTEAM_TEMPLATE, RewriteConfig
from nines.adversarial.search import SearchConfig
from nines.adversarial.world import WorldAttackConfig
from nines.classify.base import Classifier
from nines.generate.base import PromptLike

METHODS = ("world", "latent", "greedy", "beam", "paraphrase", "redteam")


@dataclass
class AttackConfig:
    """``nines attack``: which attack, on how many seeds, and each attack's own settings.

    Attributes:
        n_seeds: caught injurious snippets to attack (StoryWorld methods draw them; others read --input).
        seed: seeds the StoryWorld draw of attack seeds.
        world_seed: StoryWorld's seed (the one the classifier was trained on).
        latent_queries: query budget of the ``latent`` red-team search.
        candidates: substitution sources of the token search: ``embedding`` (the classifier's own
            embedding neighbours), ``gradient`` (HotFlip), or a causal/masked LM as ``causal:PATH``/``masked:PATH``.
        world, search, rewrite: the attacks' own configs.
    """

    n_seeds: int = 50
    seed: int = 0
    world_seed: int = 0
    latent_queries: int = 20000
    candidates: tuple[str, ...] = ("embedding", "gradient")
    world: WorldAttackConfig = field(default_factory=WorldAttackConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    rewrite: RewriteConfig = field(default_factory=RewriteConfig)

    def __post_init__(self) -> None:
        if self.n_seeds < 1:
            raise ValueError("n_seeds must be >= 1 snippets to attack")
        for c in self.candidates:
            if c not in ("embedding", "gradient") and not c.startswith(("causal:", "masked:")):
                raise ValueError(f"unknown candidate source {c!r}; use embedding, gradient, causal:PATH or masked:PATH")


def candidate_sources(clf: Any, names: Sequence[str]) -> list[Any]:
    """Build the token search's candidate sources from their names (see ``AttackConfig.candidates``)."""
    from nines.adversarial import candidates as cands

    out: list[Any] = []
    for name in names:
        if name == "embedding":
            out.append(cands.EmbeddingNeighbours(clf))
        elif name == "gradient":
            out.append(cands.GradientCandidates(clf))
        elif name.startswith("causal:"):
            out.append(cands.CausalLMCandidates(name.split(":", 1)[1]))
        else:
            out.append(cands.MaskedLMCandidates(name.split(":", 1)[1]))
    return out


def run_attack(method: str, clf: Classifier, cfg: AttackConfig, pairs: Sequence[tuple[PromptLike, str]] = (),
               generator: Any = None, prompts: Sequence[PromptLike] = (), progress: bool = True) -> AttackReport:
    """Run one attack by name.

    Args:
        method: one of :data:`METHODS`.
        clf: the classifier under attack.
        cfg: the attack settings.
        pairs: injurious (prompt, completion) snippets to start from (greedy, beam, paraphrase); a
            StoryWorld Prompt (id ``storyworld:<scene>``) lets StoryWorld's oracle label the finds.
        generator: the writing model (paraphrase, redteam).
        prompts: stories to continue (redteam).
        progress: show progress bars.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attack {method!r}; choose one of {', '.join(METHODS)}")
    from nines.storyworld import StoryWorld
    from nines.storyworld.redteam_families import uses_red_team

    # Naming a red-team family (world.families=[..., redteam.indirect.response]) compiles the lexicon.
    world = StoryWorld(seed=cfg.world_seed, red_team_lexicon=uses_red_team(cfg.world.families or ()))
    if method in ("world", "latent"):
        from nines.adversarial.world import latent_redteam, seed_states, world_attack

        fams = list(cfg.world.families) if cfg.world.families else None
        if method == "latent":
            return latent_redteam(world, clf, cfg.latent_queries, families=fams, seed=cfg.seed)
        states = seed_states(world, clf, cfg.n_seeds, seed=cfg.seed, families=fams)
        return world_attack(world, clf, states, cfg.world, progress=progress)
    if method in ("greedy", "beam"):
        from nines.adversarial.search import token_attack

        if not pairs:
            raise ValueError(f"the {method} attack needs injurious snippets to start from (--input)")
        search = replace(cfg.search, method="greedy" if method == "greedy" else "beam")
        return token_attack(clf, list(pairs)[: cfg.n_seeds], search,
                            candidate_sources(clf, cfg.candidates), oracle=world.oracle(), progress=progress)
    if generator is None:
        raise ValueError(f"the {method} attack needs a generator (e.g. --generator openai:http://host:8000/v1#model)")
    from nines.adversarial.rewrite import paraphrase_attack, redteam_attack

    if method == "paraphrase":
        if not pairs:
            raise ValueError("the paraphrase attack needs injurious snippets to rewrite (--input)")
        return paraphrase_attack(generator, clf, list(pairs)[: cfg.n_seeds], cfg.rewrite)
    if not prompts:
        raise ValueError("the redteam attack needs stories to continue (--prompts)")
    # rewrite.template defaults to the paraphrase instruction; the red-team attack needs its own.
    rcfg = cfg.rewrite if cfg.rewrite.template != PARAPHRASE_TEMPLATE else replace(cfg.rewrite, template=REDTEAM_TEMPLATE)
    return redteam_attack(generator, clf, list(prompts)[: cfg.n_seeds], rcfg)
