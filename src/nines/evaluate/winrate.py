r"""The two win-rate designs: filtered vs unfiltered completions over a generator, the filter and a judge.

The estimand (see :mod:`nines.stats.winrate`, which holds the estimator) is

    W = E_x P(f beats u),   f ~ p(. | x, accepted),  u ~ p(. | x) independent,

with ties counting 1/2. These designs run the loop to get one outcome per prompt and hand the
outcomes to :func:`~nines.stats.winrate.winrate_from_outcomes`.

Two designs estimate it without bias:

* **naive** (:func:`naive_winrate`): per prompt draw ``u ~ p`` and, independently, a filtered
  ``f``; judge ``(f, u)``. One judge call per prompt.
* **coupled** (:func:`coupled_winrate`): per prompt draw ``c1 ~ p``; ``c1`` *is* the unfiltered
  sample. If ``c1`` is accepted it is also the filtered sample and the pair scores exactly 1/2
  with **no judge call**; otherwise keep rejection sampling to get ``f`` and judge ``(f, c1)``.

Why the coupled design is unbiased (proof sketch). Let A be the event "c1 is accepted" and
a = P(A | x). Write J(f, u) = E[o | f, u] for the judge's expected outcome; an antisymmetric judge
has J(f, u) = 1 - J(u, f), hence E[J(f, u')] = 1/2 when f and u' are iid. Then

    W_x = E[J(f, u)] = a E[J(f, u) | u accepted] + (1 - a) E[J(f, u) | u rejected].

Given "u accepted", u ~ p(. | x, accepted), the same law as f, and f is independent of u, so the
first term is a * 1/2. Given "u rejected", f is obtained by rejection sampling from fresh draws,
independent of u, so the second term is (1 - a) E[J(f, c1) | c1 rejected]. The coupled design
returns 1/2 on A and J(f, c1) on not-A, whose expectation is exactly the same sum. The coupled
design needs judge calls only on the (1 - a) share of prompts and its outcomes have lower variance
(a point mass at 1/2 replaces a {0, 1} draw), so it needs far fewer judge calls for a given
interval width (see ``benchmarks/winrate_judge_calls.py``).

Both designs need a filter whose accepted completion is a draw from p(. | x, accepted): the
``"sequential"`` or ``"batch_first"`` strategy without threshold tightening. Prompts the filter
refuses (nothing accepted within ``max_attempts``) are dropped from the estimate and counted in
``n_refused``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from nines.classify.base import Classifier
from nines.filter.config import FilterConfig
from nines.filter.rejection import FilterResult, filter_generate
from nines.generate.base import Completion, Generator, PromptLike, prompt_texts
from nines.judge.base import PairwiseJudge
from nines.stats.winrate import IntervalMethod, WinRate, winrate_from_outcomes

__all__ = ["coupled_outcomes", "coupled_winrate", "naive_winrate"]


def _sub_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence(entropy=seed, spawn_key=(7919, k)).generate_state(1, dtype=np.uint32)[0])


def _filter_config(config: FilterConfig | None, seed: int) -> FilterConfig:
    cfg = config if config is not None else FilterConfig(strategy="sequential", max_attempts=64)
    if cfg.strategy == "batch_safest" or cfg.tighten_after is not None:
        raise ValueError(
            "the win-rate designs need the filtered sample to be a draw from p(.|x, accepted): use "
            "strategy 'sequential' or 'batch_first' and tighten_after=None"
        )
    return replace(cfg, seed=seed, fallback="refuse")


def _threshold(classifier: Classifier, cfg: FilterConfig) -> float:
    thr = cfg.threshold if cfg.threshold is not None else getattr(classifier, "threshold", None)
    if thr is None or not 0.0 <= float(thr) <= 1.0:
        raise ValueError(f"threshold {thr!r} is not in [0, 1]; set config.threshold or calibrate the classifier")
    return float(thr)


def _as_completion(r: FilterResult) -> Completion:
    return Completion(text=r.completion or "", logprob=r.logprob, meta=dict(r.completion_meta))


def _check_prompts(prompts: Sequence[PromptLike]) -> list[PromptLike]:
    if isinstance(prompts, str):
        raise ValueError("prompts must be a sequence of prompts, not a single string; wrap it in a list")
    out = list(prompts)
    if not out:
        raise ValueError("need at least one prompt")
    return out


def naive_winrate(
    generator: Generator,
    classifier: Classifier,
    judge: PairwiseJudge,
    prompts: Sequence[PromptLike],
    confidence: float = 0.95,
    method: IntervalMethod = "t",
    config: FilterConfig | None = None,
    seed: int = 0,
) -> WinRate:
    """Independent design: per prompt, u ~ p and an independent filtered f; outcome = judge(f, u).

    One ``generator.generate`` call for all ``u``, one :func:`filter_generate` run (batched rounds)
    for all ``f`` and one ``judge.compare`` call. Judge calls = prompts not refused.

    Args:
        generator: the unfiltered generator p.
        classifier: the injury classifier.
        judge: pairwise judge (outcome 1 when its first argument, the filtered one, is better).
        prompts: prompts; duplicates are independent replicates.
        confidence: interval level.
        method: interval method (see :func:`winrate_from_outcomes`).
        config: filter settings (default: sequential, ``max_attempts=64``); ``seed`` and ``fallback``
            are overridden.
        seed: seeds all draws.
    """
    prompts = _check_prompts(prompts)
    cfg = _filter_config(config, _sub_seed(seed, 1))
    unfiltered = [c[0] for c in generator.generate(prompts, n=1, seed=_sub_seed(seed, 0))]
    filtered = filter_generate(generator, classifier, prompts, cfg, progress=False)
    keep = [i for i, r in enumerate(filtered) if r.accepted]
    outs = judge.compare(
        [prompts[i] for i in keep], [_as_completion(filtered[i]) for i in keep], [unfiltered[i] for i in keep]
    )
    return winrate_from_outcomes(
        outs, confidence, method, design="naive", judge_calls=len(keep), n_refused=len(prompts) - len(keep)
    )


def coupled_outcomes(
    generator: Generator,
    classifier: Classifier,
    judge: PairwiseJudge,
    prompts: Sequence[PromptLike],
    config: FilterConfig | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, int, int]:
    """Per-prompt outcomes of the coupled design (NaN for refused prompts).

    Returns:
        ``(outcomes, judge_calls, n_refused)``.
    """
    prompts = _check_prompts(prompts)
    cfg = _filter_config(config, _sub_seed(seed, 1))
    thr = _threshold(classifier, cfg)
    first = [c[0] for c in generator.generate(prompts, n=1, seed=_sub_seed(seed, 0))]
    scores = np.asarray(classifier.score(prompt_texts(prompts), [c.text for c in first]), dtype=float).reshape(-1)
    if scores.shape != (len(prompts),):
        raise ValueError(f"classifier.score must return {len(prompts)} scores, got shape {scores.shape}")
    accepted = ~np.isnan(scores) & (scores <= thr)
    outs = np.full(len(prompts), 0.5)
    rejected = np.flatnonzero(~accepted).tolist()
    calls = 0
    if rejected:
        # The first draw was rejected: continue rejection sampling with fresh draws (one fewer allowed).
        rest = replace(cfg, max_attempts=max(1, cfg.max_attempts - 1)) if cfg.strategy == "sequential" else cfg
        results = filter_generate(generator, classifier, [prompts[i] for i in rejected], rest, progress=False)
        ok = [(i, r) for i, r in zip(rejected, results) if r.accepted]
        for i, r in zip(rejected, results):
            if not r.accepted:
                outs[i] = math.nan
        if ok:
            judged = judge.compare(
                [prompts[i] for i, _ in ok], [_as_completion(r) for _, r in ok], [first[i] for i, _ in ok]
            )
            outs[[i for i, _ in ok]] = judged
            calls = len(ok)
    return outs, calls, int(np.isnan(outs).sum())


def coupled_winrate(
    generator: Generator,
    classifier: Classifier,
    judge: PairwiseJudge,
    prompts: Sequence[PromptLike],
    confidence: float = 0.95,
    method: IntervalMethod = "t",
    config: FilterConfig | None = None,
    seed: int = 0,
) -> WinRate:
    """Coupled (efficient) design: the first draw is the unfiltered sample; accepted -> exactly 1/2.

    See the module docstring for why E[outcome] = W, the same as :func:`naive_winrate`. Judge
    calls are only spent on prompts whose first draw was rejected.

    Args: as :func:`naive_winrate`.
    """
    outs, calls, refused = coupled_outcomes(generator, classifier, judge, prompts, config, seed)
    kept = outs[~np.isnan(outs)]
    return winrate_from_outcomes(kept, confidence, method, design="coupled", judge_calls=calls, n_refused=refused)
