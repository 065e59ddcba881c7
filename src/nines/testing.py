"""Scaffolding for tests and benchmarks: exact filter scenarios and synthetic stand-ins.

Nothing in the library imports this module (``tests/test_layering.py`` checks it); it sits on top
of the layers so that it may use StoryWorld, the generators and the estimators together.

**Exact filtered-policy scenarios** (:class:`FilterScenario`, :func:`storyworld_scenario`) built
from StoryWorld, for testing and benchmarking the estimators in :mod:`nines.stats`.

A StoryWorld completion's outcome distribution depends only on the prompt's *key* (tension, prior
injury, sentient victim), and a completion path picks outcome -> family -> template -> variant
uniformly below the outcome. So with a synthetic classifier score that is a deterministic function of
(prompt key, variant) -- a family-level logit, a per-variant "text hash" noise term and a prompt-level
shift -- every quantity the estimators target is exact:

* P(variant | key) = P(outcome | key) / n_families(outcome) / n_templates(family) / n_variants(template),
* P(a=1 | key) = sum over variants of P(variant | key) * 1[score <= t],
* F = E_key[ P(y=1, a=1 | key) / P(a=1 | key) ]  (keys with P(a=1|key) = 0 excluded, renormalised).

Sampling is pure numpy (inverse CDF per key), so thousands of replications run in a second.

**Synthetic stand-ins** that need no neural network: :class:`RecordingGenerator` remembers the
latent facts of each completion it passes on, and :class:`MetaClassifier` scores completions from
those facts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from nines.generate.base import Completion, PromptLike, prompt_text
from nines.storyworld.families import INJURIOUS_OUTCOMES, OUTCOMES
from nines.storyworld.scenes import DISTRIBUTIONS, check_distribution
from nines.storyworld.world import StoryWorld

#: Default family logits of the synthetic classifier, by outcome (families may be overridden by name).
DEFAULT_OUTCOME_LOGIT: dict[str, float] = {
    "explicit_injury": 3.0, "death": 3.0, "indirect_injury": 2.0, "worsened_injury": 2.5,
    "near_miss": 0.5, "object_damage": -0.5, "metaphor": -0.5, "hurt_feelings": -1.0,
    "sickness": -0.5, "past_injury": -0.5, "neutral": -3.0,
}


def text_noise(texts: list[str], salt: str = "") -> np.ndarray:
    """Deterministic standard-normal noise from a hash of each text: ``Phi^-1(blake2b(text) / 2^64)``."""
    u = np.array(
        [(int.from_bytes(hashlib.blake2b((salt + t).encode(), digest_size=8).digest(), "big") + 0.5) / 2**64
         for t in texts]
    )
    return np.asarray(norm.ppf(u), dtype=float)


@dataclass(frozen=True)
class FilterScenario:
    """Prompt keys x completion variants with exact probabilities, labels and synthetic scores.

    Attributes:
        key_probs: P(key) for the 12 (tension, prior, sentient) keys, shape (P,).
        cell_probs: P(variant | key), shape (P, C); rows sum to one.
        labels: oracle label of (key, variant), shape (P, C).
        scores: synthetic classifier score in (0, 1), shape (P, C).
        keys: (tension, prior, sentient) per key.
    """

    key_probs: np.ndarray
    cell_probs: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    keys: list[tuple[int, int, int]]

    def accept_prob(self, threshold: float) -> np.ndarray:
        """Exact P(a=1 | key) = sum_c P(c | key) 1[score(key, c) <= t], shape (P,)."""
        return (self.cell_probs * (self.scores <= threshold)).sum(1)

    def failure_rate(self, threshold: float) -> float:
        """Exact filtered failure rate F = E_key[P(y=1, a=1 | key) / P(a=1 | key) | P(a=1|key) > 0]."""
        pa = self.accept_prob(threshold)
        pya = (self.cell_probs * (self.scores <= threshold) * self.labels).sum(1)
        ok = pa > 0
        w = self.key_probs * ok
        return float((w[ok] * pya[ok] / pa[ok]).sum() / w.sum())

    def pooled_rate(self, threshold: float) -> float:
        """What the pooled ratio of means converges to: P(y=1 | a=1) = E[P(y,a|x)] / E[P(a|x)]."""
        acc = self.scores <= threshold
        pya = (self.cell_probs * acc * self.labels).sum(1)
        return float((self.key_probs * pya).sum() / (self.key_probs * self.accept_prob(threshold)).sum())

    def sample_keys(self, shape: int | tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw prompt keys from ``key_probs``."""
        return rng.choice(len(self.key_probs), size=shape, p=self.key_probs)

    def sample_cells(self, keys: np.ndarray, rng: np.random.Generator,
                     accepted_only_at: float | None = None) -> np.ndarray:
        """One completion variant per key (unfiltered, or from the filtered policy at a threshold)."""
        probs = self.cell_probs if accepted_only_at is None else (
            self.cell_probs * (self.scores <= accepted_only_at))
        cum = np.cumsum(probs, 1)
        cum /= cum[:, -1:]
        u = rng.random(keys.shape)
        out = np.empty(keys.shape, dtype=np.int64)
        for k in np.unique(keys):
            m = keys == k
            out[m] = np.minimum(np.searchsorted(cum[k], u[m], side="right"), cum.shape[1] - 1)
        return out


def storyworld_scenario(
    world: StoryWorld | None = None,
    distribution: str = "default",
    outcome_logit: Mapping[str, float] | None = None,
    family_logit: Mapping[str, float] | None = None,
    noise_sd: float = 1.0,
    tension_shift: tuple[float, float, float] = (0.0, 0.5, 1.0),
    prior_shift: float = 0.5,
) -> FilterScenario:
    """Build an exact :class:`FilterScenario` from a StoryWorld and a synthetic classifier.

    score(key, variant) = sigmoid(logit[family] + noise_sd * z(variant text) + tension_shift[t] + prior_shift * prior),
    where z is :func:`text_noise` of the variant's template text, so the score is a deterministic noisy
    function of the latent event (and the prompt-level shift makes acceptance vary across prompts).

    Args:
        world: the StoryWorld (default ``StoryWorld(0)``).
        distribution: prompt distribution name (``default`` or ``random_excerpt``).
        outcome_logit: logit per outcome kind (default :data:`DEFAULT_OUTCOME_LOGIT`).
        family_logit: per-family overrides (e.g. a family the classifier misses).
        noise_sd: scale of the per-variant hash noise.
        tension_shift: added logit by prompt tension (calm, tense, climax).
        prior_shift: added logit when the victim has a prior injury.
    """
    check_distribution(distribution)
    world = world or StoryWorld(0)
    tb = world.tables
    model = world.model(None)
    ol = dict(DEFAULT_OUTCOME_LOGIT if outcome_logit is None else outcome_logit)
    fl = dict(family_logit or {})
    unknown = set(fl) - set(tb.families)
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}; see StoryWorld.families")
    tmpl = tb.variant_template
    fam = tb.template_family[tmpl]
    outc = tb.family_outcome[fam]
    # P(variant | outcome) and the family logit per variant.
    # Families outside the model (a red-team lexicon's, natural weight zero) get probability zero.
    p_given_outcome = model.allowed[fam] / (model.n_fam[outc] * tb.family_templates.length[fam]
                                            * tb.template_variants.length[tmpl])
    logit_v = np.array([fl.get(tb.families[f], ol[OUTCOMES[o]]) for f, o in zip(fam, outc)])
    logit_v = logit_v + noise_sd * text_noise(tb.variant_fmt)
    inj = np.array([OUTCOMES[o] in INJURIOUS_OUTCOMES for o in outc])
    d = DISTRIBUTIONS[distribution]
    tension_p = np.asarray(d["tension"], dtype=float)
    ps, pp = float(d["sentient"]), float(d["prior"])  # type: ignore[arg-type]
    keys, kp, cp, lab, sco = [], [], [], [], []
    for t in range(3):
        for prior in range(2):
            for s in range(2):
                pk = tension_p[t] * (ps * (pp if prior else 1 - pp) if s else (1 - ps) * (0 if prior else 1))
                if pk <= 0:
                    continue
                keys.append((t, prior, s))
                kp.append(pk)
                cp.append(model.table[t, prior, s][outc] * p_given_outcome)
                lab.append(inj & bool(s))
                z = logit_v + tension_shift[t] + prior_shift * prior
                sco.append(1.0 / (1.0 + np.exp(-z)))
    cell = np.array(cp)
    if not np.allclose(cell.sum(1), 1.0):
        raise AssertionError("StoryWorld variant probabilities do not sum to one")
    return FilterScenario(np.array(kp) / sum(kp), cell / cell.sum(1, keepdims=True), np.array(lab),
                          np.array(sco), keys)


class RecordingGenerator:
    """Wraps a generator and remembers each completion's meta by (prompt, text).

    Lets a synthetic classifier (:class:`MetaClassifier`) score StoryWorld completions from their
    latent facts, for estimator tests and benchmarks that need no neural network.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = f"recording:{inner.name}"
        self.meta: dict[tuple[str, str], dict[str, Any]] = {}

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """The inner generator's completions, each one's meta remembered under (prompt text, completion)."""
        out: list[list[Completion]] = self.inner.generate(prompts, n=n, seed=seed)
        for p, comps in zip(prompts, out):
            for c in comps:
                # Keyed by text, because a classifier is handed texts, not Prompt objects.
                self.meta[(prompt_text(p), c.text)] = c.meta
        return out


class MetaClassifier:
    """Synthetic classifier over recorded meta: 0.75 when injurious, 0.6 when incoherent, else 0.2,
    plus uniform noise of width 0.3 from a hash of the pair (deterministic); threshold 0.5."""

    threshold = 0.5

    def __init__(self, meta: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        self.meta = meta

    def score(self, prompts: Sequence[PromptLike], completions: Sequence[str]) -> np.ndarray:
        """Scores from the recorded meta (a KeyError for a pair the RecordingGenerator never produced)."""
        out = []
        for p, c in zip(map(prompt_text, prompts), completions):
            m = self.meta[(p, c)]
            base = 0.75 if m["injurious"] else (0.6 if not m["coherent"] else 0.2)
            u = int.from_bytes(hashlib.blake2b(f"{p}|{c}".encode(), digest_size=8).digest(), "little") / 2**64
            out.append(base + 0.3 * (u - 0.5))
        return np.array(out)


__all__ = [
    "DEFAULT_OUTCOME_LOGIT", "FilterScenario", "MetaClassifier", "RecordingGenerator", "storyworld_scenario",
    "text_noise",
]
