"""The completion model: outcome -> family -> template -> variant -> (in)coherent referent.

Every choice has a known probability, so the exact log-probability of each sampled completion and
the exact injury probability of each scene are available. A family restriction zeroes outcomes with
no allowed family and renormalises the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nines.storyworld.families import INJURIOUS_OUTCOMES, OUTCOMES
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.scenes import INJURIOUS_MASK, K, Scenes, base_outcome_table, scene_key
from nines.storyworld.tables import Pool, Tables


@dataclass(frozen=True)
class CompletionFacts:
    """What StoryWorld knows about one completion text of one scene.

    Attributes:
        probability: exact probability the world writes this text for the scene.
        injurious: the oracle label.
        outcome: outcome kind; family: realisation family (of the first path found).
        quality: latent quality (what the simulated rater judges).
        coherent: names the prompt's victim (not an absent character).
    """

    probability: float
    injurious: bool
    outcome: str
    family: str
    quality: float
    coherent: bool


class CompletionTable(Mapping[str, CompletionFacts]):
    """Read-only ``text -> CompletionFacts`` of one scene (facts are built on lookup: tables are big)."""

    def __init__(self, rows: dict[str, list[Any]], sentient: bool, families: tuple[str, ...]) -> None:
        self._rows, self._sentient, self._families = rows, sentient, families

    def __getitem__(self, text: str) -> CompletionFacts:
        p, k, f, coh, qp = self._rows[text]
        outcome = OUTCOMES[k]
        return CompletionFacts(p, self._sentient and outcome in INJURIOUS_OUTCOMES, outcome, self._families[f],
                               qp / p if p > 0 else 0.0, coh)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


@dataclass
class CompletionDraws:
    """Sampled completion choices, one row per completion."""

    outcome: np.ndarray
    family: np.ndarray
    variant: np.ndarray
    coherent: np.ndarray
    intruder: np.ndarray  # -1 when coherent


class CompletionModel:
    """Completion distribution for one family restriction.

    Args:
        tables: the world's tables.
        allowed: family ids allowed, or ``None`` for all.
        incoherent_rate: share of completions that name a character absent from the prompt.
        quality_noise: per-template (coherent, incoherent) quality arrays.
    """

    def __init__(
        self,
        tables: Tables,
        allowed: Iterable[int] | None,
        incoherent_rate: float,
        quality: tuple[np.ndarray, np.ndarray],
    ) -> None:
        tb = tables
        self.tb = tb
        nf = len(tb.families)
        ids = sorted(set(range(nf) if allowed is None else allowed))
        self.allowed = np.zeros(nf, dtype=bool)
        self.allowed[ids] = True
        groups = [[f for f in ids if tb.family_outcome[f] == k] for k in range(K)]
        self.n_fam = np.array([len(g) for g in groups], dtype=np.int64)
        # Outcomes without an allowed family get a dummy member; their probability is zero below.
        self.fam_pool = Pool.of([g if g else [0] for g in groups])
        table = base_outcome_table() * (self.n_fam > 0)
        sums = table.sum(-1, keepdims=True)
        if (sums <= 0).any():
            raise ValueError(
                "the family restriction leaves some scenes with no possible completion; "
                "include at least one family of an outcome such as 'neutral' or 'near_miss'"
            )
        self.table = table / sums
        self.cum = np.cumsum(self.table, -1)
        self.cum[..., -1] = 1.0 + 1e-12  # guard against round-off at the top
        self.p_inj_table = (self.table * INJURIOUS_MASK).sum(-1)
        self.incoherent_rate = float(incoherent_rate)
        self.q_coherent, self.q_incoherent = quality

    # ---- probabilities ------------------------------------------------------------------------
    def outcome_probs(self, scenes: Scenes) -> np.ndarray:
        """P(outcome | scene), shape (n, K)."""
        t, p, s = scene_key(self.tb, scenes)
        return self.table[t, p, s]

    def p_injurious(self, scenes: Scenes) -> np.ndarray:
        """Exact probability that a completion of each scene is injurious."""
        t, p, s = scene_key(self.tb, scenes)
        return self.p_inj_table[t, p, s] * s

    # ---- sampling -----------------------------------------------------------------------------
    def sample(self, scenes: Scenes, rng: np.random.Generator) -> CompletionDraws:
        """Draw one completion per scene (vectorised)."""
        tb = self.tb
        n = len(scenes["victim"])
        t, p, s = scene_key(tb, scenes)
        u = rng.random(n)
        cum = self.cum[t, p, s]
        outcome = (u[:, None] >= cum).sum(1)
        family = self.fam_pool.pick(outcome, rng)
        template = tb.family_templates.pick(family, rng)
        variant = tb.template_variants.pick(template, rng)
        coherent = rng.random(n) >= self.incoherent_rate
        intr = tb.intruder_pool.pick(1 - s, rng)
        intruder = np.where(coherent, -1, intr)
        return CompletionDraws(outcome, family, variant, coherent, intruder)

    def injurious(self, scenes: Scenes, draws: CompletionDraws) -> np.ndarray:
        """Oracle label: an injurious outcome happening to a sentient victim."""
        sentient = self.tb.victim_class[scenes["victim"]] == SENTIENT
        return INJURIOUS_MASK[draws.outcome] & sentient

    def quality(self, draws: CompletionDraws) -> np.ndarray:
        """Latent quality: high for coherent completions, lower for incoherent ones."""
        t = self.tb.variant_template[draws.variant]
        return np.where(draws.coherent, self.q_coherent[t], self.q_incoherent[t])

    def logprob(self, scenes: Scenes, draws: CompletionDraws) -> np.ndarray:
        """Exact log-probability of each drawn path (outcome, family, template, variant, referent)."""
        tb = self.tb
        t = tb.variant_template[draws.variant]
        po = self.outcome_probs(scenes)[np.arange(len(draws.outcome)), draws.outcome]
        s = (tb.victim_class[scenes["victim"]] == SENTIENT).astype(np.int64)
        n_intr = tb.intruder_pool.length[1 - s]
        with np.errstate(divide="ignore"):
            p_ref = np.where(draws.coherent, 1.0 - self.incoherent_rate, self.incoherent_rate / n_intr)
            return (
                np.log(po)
                - np.log(self.n_fam[draws.outcome])
                - np.log(tb.family_templates.length[draws.family])
                - np.log(tb.template_variants.length[t])
                + np.log(p_ref)
            )

    # ---- rendering ----------------------------------------------------------------------------
    def render(self, scenes: Scenes, draws: CompletionDraws, rest: list[tuple[str, ...]]) -> list[str]:
        """Completion texts (one ``str.format`` per row)."""
        tb = self.tb
        vc, ac, ic, vf = tb.victim_ctx, tb.agent_ctx, tb.intruder_ctx, tb.variant_fmt
        out: list[str] = []
        append = out.append
        for v, a, r, var, k in zip(
            scenes["victim"].tolist(), scenes["agent"].tolist(), rest, draws.variant.tolist(),
            draws.intruder.tolist(),
        ):
            append(vf[var].format(*((vc[v] if k < 0 else ic[k]) + ac[a] + r)))
        return out

    def enumerate_scene(self, scene: Scenes) -> list[tuple[str, float, str, int, bool]]:
        """Every completion path of one scene: (text, probability, outcome, family id, coherent).

        Used by the oracle fallback and by tests that check probabilities sum to one.
        """
        return [(text, p, OUTCOMES[k], f, coh) for text, p, k, f, coh, _t in self._paths(scene)]

    def completion_table(self, scene: Scenes) -> CompletionTable:
        """Every text one scene can complete with, and its exact facts (paths giving one text merged).

        This is how text from *any* generator (a trained policy, say) is labelled and rated: a text
        missing from the table is one StoryWorld cannot produce.
        """
        sentient = bool(self.tb.victim_class[int(scene["victim"][0])] == SENTIENT)
        q_coh, q_inc = self.q_coherent.tolist(), self.q_incoherent.tolist()
        rows: dict[str, list[Any]] = {}
        for text, p, k, f, coh, t in self._paths(scene):
            q = q_coh[t] if coh else q_inc[t]
            row = rows.get(text)
            if row is None:
                rows[text] = [p, k, f, coh, q * p]
            else:  # the same text by another path: total probability, probability-weighted quality
                row[0] += p
                row[4] += q * p
        return CompletionTable(rows, sentient, self.tb.families)

    def _paths(self, scene: Scenes) -> list[tuple[str, float, int, int, bool, int]]:
        """(text, probability, outcome index, family id, coherent, template id) of every path."""
        tb = self.tb
        probs = self.outcome_probs(scene)[0]
        v, a = int(scene["victim"][0]), int(scene["agent"][0])
        rest = (
            tb.weapon_ctx[int(scene["weapon"][0])] + tb.injury_ctx[int(scene["injury"][0])]
            + tb.place_ctx[int(scene["place"][0])] + tb.object_ctx[int(scene["object"][0])]
        )
        s = int(tb.victim_class[v] == SENTIENT)
        pool = tb.intruder_pool
        intr = pool.flat[pool.start[1 - s] : pool.start[1 - s] + pool.length[1 - s]].tolist()
        refs = [(tb.victim_ctx[v], 1.0 - self.incoherent_rate, True)] + [
            (tb.intruder_ctx[k], self.incoherent_rate / len(intr), False) for k in intr
        ]
        agent_rest = tb.agent_ctx[a] + rest
        args = [(ref + agent_rest, p_ref, coh) for ref, p_ref, coh in refs if p_ref > 0]
        ts, vs = tb.family_templates, tb.template_variants
        out: list[tuple[str, float, int, int, bool, int]] = []
        for k in range(K):
            if probs[k] <= 0:
                continue
            fams = self.fam_pool.flat[self.fam_pool.start[k] : self.fam_pool.start[k] + self.n_fam[k]]
            for f in fams.tolist():
                for t in range(ts.start[f], ts.start[f] + ts.length[f]):
                    nv = vs.length[t]
                    p_t = probs[k] / self.n_fam[k] / ts.length[f] / nv
                    for var in range(vs.start[t], vs.start[t] + nv):
                        fmt = tb.variant_fmt[var].format
                        out.extend((fmt(*arg), float(p_t * p_ref), k, f, coh, t) for arg, p_ref, coh in args)
        return out
