"""Measure a policy the way the filter is measured: an oracle's labels, classifier, KL, win rate, cost.

Labels come from an :class:`~nines.oracle.Oracle`. With StoryWorld's exact oracle a trained policy's
free text is looked up in the table of every text the world can write for that prompt
(:meth:`StoryWorld.completion_facts`), which also gives the rater's quality. A text the oracle
cannot label is counted as *invalid* and reported two ways (left out of the failure rate, and
counted as a failure in a worst-case rate), and the rater gives it quality 0, below any real
completion, so incoherent text loses the win rate. That is how reward hacking by writing gibberish
shows up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nines.classify.base import Classifier
from nines.distill.kl import KLEstimate, kl_to_reference
from nines.filter import FilterConfig, filter_generate
from nines.generate.base import Prompt, prompt_texts
from nines.oracle.base import Oracle, label_all
from nines.stats.binomial import Interval, binomial_interval

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld

#: ``(prompt, text) -> quality`` for the simulated rater, ``None`` for a text it cannot rate.
Rater = Callable[[Prompt, str], "float | None"]

#: Rater quality of a text StoryWorld cannot produce (real completions are about 0.45 to 1.05).
INVALID_QUALITY = 0.0


@dataclass
class PolicyEvalConfig:
    """Sizes and settings of the policy measurements.

    Attributes:
        n_prompts: fresh prompts, one completion each, checked by the oracle and the classifier.
        winrate_prompts: the first this many are also judged against an unfiltered completion.
        kl_prompts: the first this many give the KL estimate (two teacher-forced passes each).
        judge_noise: Bradley-Terry noise of the simulated rater.
        max_attempts: rejection-sampling budget of the filtered policy (it refuses after that).
        confidence: two-sided level of every interval.
        seed: seeds the evaluation prompts (keep apart from training seeds).
    """

    n_prompts: int = 10000
    winrate_prompts: int = 2000
    kl_prompts: int = 1000
    judge_noise: float = 0.1
    max_attempts: int = 16
    confidence: float = 0.95
    seed: int = 3_000_017

    def __post_init__(self) -> None:
        if self.n_prompts < 2:
            raise ValueError("eval.n_prompts must be >= 2")
        if not 2 <= self.winrate_prompts <= self.n_prompts or not 2 <= self.kl_prompts <= self.n_prompts:
            raise ValueError("eval.winrate_prompts and eval.kl_prompts must be in [2, eval.n_prompts]")
        if self.max_attempts < 1 or not 0 < self.confidence < 1 or not self.judge_noise > 0:
            raise ValueError("eval.max_attempts >= 1, eval.confidence in (0, 1) and eval.judge_noise > 0 required")


@dataclass
class Labelled:
    """Oracle labels of texts (``None`` where the oracle cannot say) and the rater's quality."""

    injurious: list[bool | None]
    quality: np.ndarray

    @property
    def n_invalid(self) -> int:
        return sum(y is None for y in self.injurious)

    @property
    def n_failures(self) -> int:
        return sum(y is True for y in self.injurious)


def storyworld_rater(world: StoryWorld) -> Rater:
    """The simulated rater's quality: StoryWorld's latent quality of a text it can write, else ``None``."""

    def rate(prompt: Prompt, text: str) -> float | None:
        table = world.completion_facts(prompt)
        fact = None if table is None else table.get(text)
        return None if fact is None else fact.quality

    return rate


def label_texts(oracle: Oracle, prompts: Sequence[Prompt], texts: Sequence[str],
                rater: Rater | None = None) -> Labelled:
    """Label each (prompt, text) with the oracle (and rate it with ``rater``)."""
    return label_many(oracle, prompts, {"": list(texts)}, rater=rater)[""]


def label_many(oracle: Oracle, prompts: Sequence[Prompt], texts: dict[str, Sequence[str | None]],
               progress: bool = False, rater: Rater | None = None) -> dict[str, Labelled]:
    """Label several policies' completions of the same prompts, prompt by prompt.

    Prompt-major order matters for StoryWorld: building a prompt's table costs ~40 ms and the
    world caches recent ones, so every policy's text of one prompt shares one table. ``None`` texts
    (refusals) stay None; a text the oracle cannot label keeps quality :data:`INVALID_QUALITY`, as
    does every text when no ``rater`` is given.
    """
    from tqdm.auto import tqdm

    out = {k: Labelled([None] * len(v), np.full(len(v), INVALID_QUALITY)) for k, v in texts.items()}
    for i in tqdm(range(len(prompts)), desc="oracle", unit="prompt", disable=not progress):
        names = [k for k, col in texts.items() if i < len(col) and col[i] is not None]
        if not names:
            continue
        row = [str(texts[k][i]) for k in names]
        for name, text, y in zip(names, row, label_all(oracle, [prompts[i]] * len(row), row)):
            out[name].injurious[i] = y
            q = rater(prompts[i], text) if rater is not None and y is not None else None
            if q is not None:
                out[name].quality[i] = q
    return out


@dataclass
class PolicyFigures:
    """One policy's row of the distillation table.

    Attributes:
        name: policy name.
        n: completions returned (prompts minus refusals).
        refused: prompts the (filtered) policy refused.
        invalid: returned texts the world cannot produce.
        failure: oracle failure rate among valid texts (exact interval).
        failure_worst_case: the same counting invalid texts as failures.
        classifier_flagged: share the classifier scores above its threshold.
        mean_reward: mean of the distillation reward over returned completions (None without one).
        quality: mean rater quality of returned completions (invalid counts 0).
        winrate: win rate against the unfiltered (starting) policy, ``WinRate.to_dict()``.
        kl: KL to the starting policy, nats per completion.
        kl_stderr: its standard error.
        kl_method: how it was estimated.
        generator_calls: generator samples per returned completion.
        classifier_calls: classifier calls per returned completion (at generation time).
        seconds: wall time of the generation (and filtering) step.
    """

    name: str
    n: int
    refused: int
    invalid: int
    failure: Interval
    failure_worst_case: Interval
    classifier_flagged: Interval
    mean_reward: float | None
    quality: float
    winrate: dict[str, Any]
    kl: float
    kl_stderr: float
    kl_method: str
    generator_calls: float
    classifier_calls: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("failure", "failure_worst_case", "classifier_flagged"):
            d[k] = getattr(self, k).to_dict()
        return d


@dataclass
class Sampled:
    """What a policy returned for a list of prompts (refusals have text None)."""

    prompts: list[Prompt]
    texts: list[str | None]
    attempts: np.ndarray  # generator samples per prompt
    classifier_calls: int
    seconds: float
    scores: list[float | None] | None = None  # classifier scores already known (the filter's), per prompt


def sample_policy(generator: Any, prompts: Sequence[Prompt], seed: int) -> Sampled:
    """One completion per prompt, no filter."""
    t0 = time.time()
    rows = generator.generate(list(prompts), n=1, seed=seed)
    return Sampled(list(prompts), [r[0].text for r in rows], np.ones(len(prompts)), 0, time.time() - t0)


def sample_filtered(generator: Any, classifier: Classifier, prompts: Sequence[Prompt], max_attempts: int,
                    seed: int, progress: bool = False) -> Sampled:
    """Rejection sampling (sequential, refuse after ``max_attempts``): the filtered policy."""
    t0 = time.time()
    cfg = FilterConfig(strategy="sequential", max_attempts=max_attempts, fallback="refuse", seed=seed)
    res = filter_generate(generator, classifier, list(prompts), cfg, progress=progress)
    attempts = np.array([r.attempts for r in res], dtype=float)
    return Sampled(list(prompts), [r.completion for r in res], attempts, int(attempts.sum()), time.time() - t0,
                   scores=[r.score for r in res])


def filtered_kl(attempts: np.ndarray, max_attempts: int) -> KLEstimate:
    """KL(filtered || start) from rejection-sampling attempt counts, without any log-probability.

    The filtered policy is pi0(y) 1[accept] / a(x), so KL = E_x[-log a(x)]. With K ~ Geometric(a)
    attempts, E[H_{K-1}] = sum_j P(K > j) / j = sum_j (1 - a)^j / j = -log a, so the harmonic
    number H_{K-1} is an unbiased per-prompt estimate. Refused prompts (K > max_attempts) add
    H_{max_attempts - 1}, which makes the result a slight under-estimate when refusals happen.
    """
    k = np.minimum(np.asarray(attempts, dtype=int), max_attempts)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, max_attempts + 1))])
    h = harmonic[k - 1]
    se = float(np.std(h, ddof=1) / np.sqrt(len(h))) if len(h) > 1 else float("nan")
    return KLEstimate(float(np.mean(h)), se, len(h))


def figures(name: str, sampled: Sampled, labels: Labelled, classifier: Classifier, reference: Labelled,
            cfg: PolicyEvalConfig, kl: KLEstimate, kl_method: str, reward: Any = None) -> PolicyFigures:
    """Assemble a policy's row from its samples and their labels.

    Args:
        reference: labels of independent unfiltered completions of the first prompts (win rate).
    """
    from nines.judge import StoryWorldJudge
    from nines.stats.winrate import WinRate, winrate_from_outcomes

    keep = [i for i, t in enumerate(sampled.texts) if t is not None]
    prompts = [sampled.prompts[i] for i in keep]
    texts = [str(sampled.texts[i]) for i in keep]
    lab = Labelled([labels.injurious[i] for i in keep], labels.quality[keep])
    n_valid = len(texts) - lab.n_invalid
    if sampled.scores is not None:  # the filter scored what it returned: no second classifier pass
        scores = np.array([sampled.scores[i] for i in keep], dtype=float)
    else:
        scores = np.asarray(classifier.score(prompt_texts(prompts), texts)) if texts else np.zeros(0)
    flagged = int(np.sum(scores > classifier.threshold))
    # Win rate: policy completion vs an independent unfiltered one, on the first prompts.
    n_ref = len(reference.injurious)
    w_idx = [j for j, i in enumerate(keep) if i < n_ref]
    judge = StoryWorldJudge(noise=cfg.judge_noise, seed=cfg.seed)
    outcomes = judge.compare([prompts[j] for j in w_idx], [{"quality": lab.quality[j]} for j in w_idx],
                             [{"quality": reference.quality[keep[j]]} for j in w_idx])
    refused_w = min(n_ref, len(sampled.texts)) - len(w_idx)
    if len(outcomes):
        wr = winrate_from_outcomes(outcomes, cfg.confidence, design="naive", n_refused=refused_w)
    else:  # the policy refused every win-rate prompt: no estimate, said as such
        nan = float("nan")
        wr = WinRate(nan, nan, nan, nan, cfg.confidence, "t", "naive", 0, 0, refused_w)
    returned = max(len(texts), 1)
    return PolicyFigures(
        name=name, n=len(texts), refused=len(sampled.texts) - len(texts), invalid=lab.n_invalid,
        failure=binomial_interval(lab.n_failures, max(n_valid, 0), cfg.confidence) if n_valid else _empty(),
        failure_worst_case=binomial_interval(lab.n_failures + lab.n_invalid, len(texts), cfg.confidence)
        if texts else _empty(),
        classifier_flagged=binomial_interval(flagged, len(texts), cfg.confidence) if texts else _empty(),
        mean_reward=None if reward is None or not texts else float(np.mean(reward.from_scores(scores))),
        quality=float(np.mean(lab.quality)) if texts else float("nan"), winrate=wr.to_dict(),
        kl=kl.kl, kl_stderr=kl.stderr, kl_method=kl_method,
        generator_calls=float(sampled.attempts.sum()) / returned,
        classifier_calls=sampled.classifier_calls / returned, seconds=sampled.seconds,
    )


def _empty() -> Interval:
    return Interval(0, 0, float("nan"), 0.0, 1.0, 0.95, "clopper-pearson")


def policy_kl(policy_gen: Any, start_gen: Any, sampled: Sampled, n: int) -> KLEstimate:
    """KL(policy || start) from the policy's own first ``n`` completions (both tokenizers must agree)."""
    pairs = [(p, t) for p, t in zip(sampled.prompts[:n], sampled.texts[:n]) if t is not None]
    ps, ts = [p.text for p, _ in pairs], [t for _, t in pairs]
    return kl_to_reference(policy_gen.model, start_gen.model, policy_gen.tokenizer, ps, ts)
