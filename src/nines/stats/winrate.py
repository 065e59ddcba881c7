r"""Win rate of filtered over unfiltered completions, judged pairwise.

The estimand is

    W = E_x P(f beats u),   f ~ p(. | x, accepted),  u ~ p(. | x) independent,

with ties counting 1/2 (a judge outcome o is 1, 1/2 or 0). W = 1/2 means the filter does not
change quality as the judge sees it; W < 1/2 means filtering costs quality.

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
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from nines.classify.base import Classifier
from nines.filter.config import FilterConfig
from nines.filter.rejection import FilterResult, filter_generate
from nines.generate.base import Completion, Generator
from nines.judge.base import PairwiseJudge

IntervalMethod = Literal["t", "wilson", "bootstrap"]
_METHODS = ("t", "wilson", "bootstrap")


@dataclass(frozen=True)
class WinRate:
    """A win-rate estimate with a two-sided interval.

    Attributes:
        estimate: mean outcome (ties = 1/2).
        lower: lower end of the interval.
        upper: upper end of the interval.
        std_error: standard error of the mean, s / sqrt(n).
        confidence: two-sided confidence level.
        method: interval method (``"t"``, ``"wilson"`` or ``"bootstrap"``).
        design: ``"naive"``, ``"coupled"`` or ``"outcomes"`` (from recorded outcomes).
        n_prompts: outcomes averaged.
        judge_calls: judge calls spent (``None`` when unknown).
        n_refused: prompts dropped because the filter refused them.
    """

    estimate: float
    lower: float
    upper: float
    std_error: float
    confidence: float
    method: str
    design: str
    n_prompts: int
    judge_calls: int | None = None
    n_refused: int = 0

    @property
    def half_width(self) -> float:
        """(upper - lower) / 2."""
        return (self.upper - self.lower) / 2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["half_width"] = self.half_width
        return d

    def __str__(self) -> str:
        return (f"W = {self.estimate:.3f} [{self.lower:.3f}, {self.upper:.3f}] ({self.confidence:.0%} "
                f"{self.method}, {self.design}, n={self.n_prompts}, judge calls={self.judge_calls})")


def _check_outcomes(outcomes: Sequence[float] | np.ndarray) -> np.ndarray:
    o = np.asarray(outcomes, dtype=float).reshape(-1)
    if o.size == 0:
        raise ValueError("need at least one outcome to estimate a win rate")
    if not np.isin(o, (0.0, 0.5, 1.0)).all():
        bad = o[~np.isin(o, (0.0, 0.5, 1.0))][:5]
        raise ValueError(f"outcomes must be 1 (filtered better), 0 (unfiltered better) or 0.5 (tie); got {bad}")
    return o


def _interval(o: np.ndarray, confidence: float, method: str, n_boot: int, seed: int) -> tuple[float, float]:
    n, est = o.size, float(o.mean())
    if method == "t":
        if n < 2:
            return 0.0, 1.0
        half = float(student_t.ppf(1 - (1 - confidence) / 2, n - 1)) * float(o.std(ddof=1)) / math.sqrt(n)
        return max(0.0, est - half), min(1.0, est + half)
    if method == "wilson":
        # Wilson score interval on the mean of a [0, 1] variable: its variance is at most
        # p(1 - p), so this is conservative (very much so when many outcomes are exact ties).
        z = float(norm.ppf(1 - (1 - confidence) / 2))
        denom = 1 + z * z / n
        centre = (est + z * z / (2 * n)) / denom
        half = z * math.sqrt(est * (1 - est) / n + z * z / (4 * n * n)) / denom
        return max(0.0, centre - half), min(1.0, centre + half)
    rng = np.random.default_rng(seed)
    means = o[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    a = (1 - confidence) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def winrate_from_outcomes(
    outcomes: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    method: IntervalMethod = "t",
    design: str = "outcomes",
    judge_calls: int | None = None,
    n_refused: int = 0,
    n_boot: int = 2000,
    seed: int = 0,
) -> WinRate:
    """Win rate and interval from per-prompt outcomes in {0, 1/2, 1}.

    Point estimate: W = mean(o). Intervals:

    * ``"t"``: W ± t_{n-1, 1-a/2} s / sqrt(n), s the sample standard deviation;
    * ``"wilson"``: the Wilson score interval with p = W (valid since Var(o) <= W(1 - W));
    * ``"bootstrap"``: percentile bootstrap of the mean (``n_boot`` resamples, ``seed``).

    Works for either design: coupled outcomes are 1/2 exactly on accepted first draws.

    Args:
        outcomes: one outcome per prompt.
        confidence: two-sided level in (0, 1).
        method: ``"t"``, ``"wilson"`` or ``"bootstrap"``.
        design: label stored in the result.
        judge_calls: judge calls spent (defaults to the number of outcomes).
        n_refused: prompts dropped by the caller (stored).
        n_boot: bootstrap resamples.
        seed: bootstrap seed.

    Raises:
        ValueError: on empty or out-of-set outcomes, bad confidence or unknown method.
    """
    o = _check_outcomes(outcomes)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    if method not in _METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of {', '.join(_METHODS)}")
    lo, hi = _interval(o, confidence, method, n_boot, seed)
    se = float(o.std(ddof=1)) / math.sqrt(o.size) if o.size > 1 else math.nan
    return WinRate(
        estimate=float(o.mean()), lower=lo, upper=hi, std_error=se, confidence=confidence, method=method,
        design=design, n_prompts=int(o.size), judge_calls=o.size if judge_calls is None else judge_calls,
        n_refused=n_refused,
    )


# ---- designs over a generator, a classifier and a judge ---------------------------------------------

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


def _check_prompts(prompts: Sequence[str]) -> list[str]:
    if isinstance(prompts, str):
        raise ValueError("prompts must be a sequence of strings, not a single string; wrap it in a list")
    out = list(prompts)
    if not out:
        raise ValueError("need at least one prompt")
    return out


def naive_winrate(
    generator: Generator,
    classifier: Classifier,
    judge: PairwiseJudge,
    prompts: Sequence[str],
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
    prompts: Sequence[str],
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
    scores = np.asarray(classifier.score(prompts, [c.text for c in first]), dtype=float).reshape(-1)
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
    prompts: Sequence[str],
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


def exact_winrate(
    first_probs: np.ndarray, accepted: np.ndarray, judge_prob: np.ndarray
) -> float:
    """Exact W for one prompt with a discrete completion distribution.

    W_x = sum_i sum_j f_i u_j J_ij with u = pi, f_i = pi_i a_i / sum(pi a), J_ij = E[judge(i, j)].

    Args:
        first_probs: pi, shape (m,), sums to 1.
        accepted: a_i in {0, 1} (or acceptance probabilities), shape (m,).
        judge_prob: J, shape (m, m).

    Raises:
        ValueError: on bad shapes or when nothing can be accepted.
    """
    pi = np.asarray(first_probs, dtype=float)
    a = np.asarray(accepted, dtype=float)
    j = np.asarray(judge_prob, dtype=float)
    if pi.ndim != 1 or a.shape != pi.shape or j.shape != (pi.size, pi.size):
        raise ValueError("need probs (m,), accepted (m,) and judge_prob (m, m)")
    mass = float((pi * a).sum())
    if mass <= 0:
        raise ValueError("no completion can be accepted: the filtered distribution is undefined")
    f = pi * a / mass
    return float(f @ j @ pi)
