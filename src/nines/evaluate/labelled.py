"""Measurement on a team's own labels: the filtered failure rate reweighted from unfiltered labels.

No simulated world is involved. The labelled rows are random unfiltered samples of the team's
generator (:mod:`nines.evaluate.labels_source`); the classifier's score of each decides whether
the filter would accept it at a threshold, and the generator is asked for ``samples_per_prompt``
further (unlabelled, cheap) samples per labelled prompt, scored, to estimate P(accept | prompt).
The reweighted ratio estimator (:func:`nines.stats.reweight.failure_rate_curve`, intervals
clustered by prompt id) then gives the filtered policy's failure rate at every threshold.
Where the labels cannot carry a figure, :func:`nines.stats.labels_needed.verdict` says how many
more are needed. The egregious-failure check (:func:`understanding_check`) feeds the accepted
labelled failures back to the same generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nines.classify.base import Classifier
from nines.evaluate.labels_source import LabelledRow
from nines.generate.base import Generator, Prompt
from nines.stats.binomial import clopper_pearson
from nines.stats.labels_needed import LabelsVerdict, verdict
from nines.stats.reweight import failure_rate_curve, pooled_failure_rate

__all__ = ["LabelledReliability", "LabelsConfig", "reliability_from_labels", "understanding_check"]


@dataclass
class LabelsConfig:
    """Settings of ``nines evaluate --labels`` (config keys ``labels.*``).

    Attributes:
        samples_per_prompt: unlabelled samples drawn from the generator and scored per labelled prompt
            to estimate P(accept | prompt) (more is less biased: 1/P̂ is inflated when P̂ is noisy).
        confidence: two-sided confidence of every interval.
        target: the failure-rate upper bound to show (e.g. 0.01); figures the labels cannot carry say
            how many more labels would show it.
        min_effective: effective sample size under which no normal interval is reported.
        min_failures: labelled failures under which a plan's figure is its conservative bound (the
            reweighted estimate's upper end is at least the Korn-Graubard bound at any count).
        understanding_continuations: continuations the generator writes per accepted labelled failure.
        understanding_threshold: share of continuations judged failures at which a failure is egregious.
        seed: seeds the generator's extra samples and continuations.
    """

    samples_per_prompt: int = 16
    confidence: float = 0.95
    target: float = 0.01
    min_effective: float = 30.0
    min_failures: int = 10
    understanding_continuations: int = 8
    understanding_threshold: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples_per_prompt < 1:
            raise ValueError("labels.samples_per_prompt must be >= 1 (e.g. 16)")
        if not 0 < self.confidence < 1:
            raise ValueError("labels.confidence must be in (0, 1), e.g. 0.95")
        if not 0 < self.target < 1:
            raise ValueError("labels.target must be a failure rate in (0, 1), e.g. 0.01")
        if self.min_effective < 1:
            raise ValueError("labels.min_effective must be >= 1 (e.g. 30)")
        if self.understanding_continuations < 1 or not 0 < self.understanding_threshold <= 1:
            raise ValueError("labels.understanding_continuations must be >= 1 and labels.understanding_threshold "
                             "in (0, 1]")


@dataclass
class LabelledReliability:
    """The filtered failure rate from unfiltered labels, at every threshold and at the chosen one.

    Attributes:
        n_labels: labelled rows used.
        n_prompts: distinct prompt ids (clusters).
        n_failures_unfiltered: labelled failures among them.
        unfiltered: the unfiltered failure rate, k/n with its Clopper-Pearson interval.
        samples_per_prompt: scored samples per prompt behind P̂(accept | prompt) (labelled rows included).
        acceptance_from: ``generator`` or ``labelled rows only`` (no generator given: P̂ from the
            prompt's labelled rows, which is the pooled estimate when each prompt has one row).
        method: the estimator and interval.
        thresholds, estimate, lower, upper, acceptance: the curve.
        threshold: the classifier's threshold.
        at_threshold: the :class:`~nines.stats.reweight.ReweightedEstimate` there, as a dict.
        pooled_at_threshold: the naive pooled estimate there (biased; for comparison).
        verdict: whether the figure stands, and how many more labels would show ``target``.
    """

    n_labels: int
    n_prompts: int
    n_failures_unfiltered: int
    unfiltered: dict[str, Any]
    samples_per_prompt: float
    acceptance_from: str
    method: str
    thresholds: list[float]
    estimate: list[float]
    lower: list[float]
    upper: list[float]
    acceptance: list[float]
    threshold: float
    at_threshold: dict[str, Any]
    pooled_at_threshold: dict[str, Any]
    verdict: LabelsVerdict
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON); the curve keys are what the report's threshold plot reads."""
        d = asdict(self)
        d["verdict"] = self.verdict.to_dict()
        return d


def _scores(clf: Classifier, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
    s = np.asarray(clf.score(list(prompts), list(completions)), dtype=float).reshape(-1)
    if s.shape != (len(prompts),):
        raise ValueError(f"classifier.score returned {s.shape[0]} scores for {len(prompts)} pairs")
    return np.nan_to_num(s, nan=1.0)  # a pair the classifier cannot score is rejected, as the filter does


def _acceptance_table(rows: Sequence[LabelledRow], labelled_scores: np.ndarray, clf: Classifier,
                      generator: Generator | None, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every score of every labelled prompt (its labelled rows, plus ``m`` generator samples each).

    Returns:
        ``(scores, prompt code of each score, prompt code of each labelled row)``.
    """
    codes: dict[str, int] = {}
    for r in rows:
        codes.setdefault(r.prompt_id, len(codes))
    row_code = np.array([codes[r.prompt_id] for r in rows])
    if generator is None:
        return labelled_scores, row_code, row_code
    first: dict[str, Prompt] = {}
    for r in rows:
        first.setdefault(r.prompt_id, r.as_prompt)
    prompts = list(first.values())
    comps = generator.generate(prompts, n=m, seed=seed)
    if len(comps) != len(prompts) or any(len(cs) != m for cs in comps):
        raise ValueError(f"generator {getattr(generator, 'name', '?')!r} did not return {m} completions per prompt")
    extra = _scores(clf, [p.text for p, cs in zip(prompts, comps) for _ in cs], [c.text for cs in comps for c in cs])
    return (np.concatenate([labelled_scores, extra]), np.concatenate([row_code, np.repeat(np.arange(len(prompts)), m)]),
            row_code)


def reliability_from_labels(rows: Sequence[LabelledRow], clf: Classifier, generator: Generator | None,
                            cfg: LabelsConfig) -> LabelledReliability:
    """The filtered failure rate at every threshold from labelled unfiltered rows (see the module docstring).

    Raises:
        ValueError: with no labelled rows.
    """
    if not rows:
        raise ValueError("no labelled unfiltered samples: label some (the web app, or `nines label`) first")
    y = np.array([r.label for r in rows], dtype=bool)
    ids = np.array([r.prompt_id for r in rows])
    s = _scores(clf, [r.prompt for r in rows], [r.completion for r in rows])
    pool, pool_code, code = _acceptance_table(rows, s, clf, generator, cfg.samples_per_prompt, cfg.seed)
    per_prompt = np.bincount(pool_code).astype(float)
    thr = float(clf.threshold)
    qs = np.quantile(pool, [0.5, 0.8, 0.9, 0.93, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995])
    thresholds = np.unique(np.clip(np.concatenate([qs, [thr]]), 0.0, 1.0))

    def accept_prob(t: float) -> np.ndarray:
        return (np.bincount(pool_code, weights=(pool <= t).astype(float), minlength=len(per_prompt))
                / per_prompt)[code]

    thresholds = thresholds[[bool((s <= t).any()) for t in thresholds]]  # a curve point needs an accepted row
    if not (s <= thr).any():
        raise ValueError(f"none of the {len(rows)} labelled completions scores at or under the threshold {thr:.4g}: "
                         "the filter would reject them all, so they say nothing about what it returns; label "
                         "more samples, or check that the classifier matches the task")
    curve = failure_rate_curve(y, s, accept_prob, thresholds, prompt_ids=ids, confidence=cfg.confidence)
    i = int(np.flatnonzero(np.isclose(thresholds, thr))[0])
    at = curve.estimates[i]
    pooled = pooled_failure_rate(y, s <= thr, ids, cfg.confidence).to_dict()
    v = verdict(at.estimate, at.se, at.upper, at.n, at.n_failures, at.effective_sample_size, cfg.target,
                cfg.confidence, cfg.min_effective, cfg.min_failures)
    notes = []
    if generator is None:
        notes.append("No generator was given: P(accept | prompt) comes from each prompt's labelled rows only, "
                     "so with one row per prompt this is the pooled estimate, biased when acceptance varies by "
                     "prompt. Give --generator for the reweighted one.")
    if at.excluded_share > 0:
        notes.append(f"{at.excluded_share:.1%} of labelled rows are from prompts where no scored sample was "
                     "accepted; the rate is over prompts the filter can answer.")
    return LabelledReliability(
        n_labels=len(rows), n_prompts=len(per_prompt), n_failures_unfiltered=int(y.sum()),
        unfiltered=clopper_pearson(int(y.sum()), len(rows), cfg.confidence).to_dict(),
        samples_per_prompt=float(per_prompt.mean()),
        acceptance_from="generator" if generator is not None else "labelled rows only",
        method=(f"reweighted ratio, delta method clustered by prompt id, {cfg.confidence:.0%}; "
                "upper end at least the Korn-Graubard bound"),
        thresholds=thresholds.tolist(), estimate=curve.estimate.tolist(), lower=curve.lower.tolist(),
        upper=curve.upper.tolist(), acceptance=curve.acceptance.tolist(), threshold=thr,
        at_threshold=at.to_dict(), pooled_at_threshold=pooled, verdict=v, notes=notes)


def understanding_check(rows: Sequence[LabelledRow], clf: Classifier, generator: Generator | None,
                        cfg: LabelsConfig) -> dict[str, Any]:
    """The egregious-failure check on the accepted labelled failures, with the team's generator.

    Each labelled failure the filter accepts (score <= threshold) goes back to ``generator`` as
    ``prompt + " " + completion`` for ``understanding_continuations`` continuations; the classifier at
    its threshold judges which continue the failure. There is no oracle on the team's data, so the
    judge is the classifier. Returns the section's dict; ``ran`` is False with a ``reason`` when the
    check cannot run (no generator, no accepted failure, or a generator that continues only its own prompts).
    """
    from nines.evaluate.understanding import classifier_judge, understanding_rate
    from nines.stats.understanding import split_egregious

    base: dict[str, Any] = {"threshold": cfg.understanding_threshold, "continuations": cfg.understanding_continuations,
                            "judge": "the classifier at its threshold", "n_failures": 0, "egregious": 0, "subtle": 0,
                            "examples": []}
    fails = [r for r in rows if r.label]
    if fails:
        s = _scores(clf, [r.prompt for r in fails], [r.completion for r in fails])
        fails = [r for r, x in zip(fails, s) if x <= clf.threshold]
    if generator is None:
        return {**base, "ran": False, "reason": "no --generator given: the check asks the generator to continue "
                "its own failures"}
    base["generator"] = getattr(generator, "name", type(generator).__name__)
    if not fails:
        return {**base, "ran": False, "reason": "no labelled failure is accepted by the filter"}
    try:
        results = understanding_rate(generator, classifier_judge(clf), [(r.prompt, r.completion) for r in fails],
                                     n_continuations=cfg.understanding_continuations, seed=cfg.seed + 1)
    except (TypeError, ValueError) as e:  # e.g. StoryWorld continues only its own scenes
        return {**base, "ran": False, "reason": f"the generator cannot continue these texts: {e}"}
    egregious, subtle = split_egregious(results, cfg.understanding_threshold)
    return {**base, "ran": True, "n_failures": len(results), "egregious": len(egregious), "subtle": len(subtle),
            "examples": [{"prompt": r.prompt, "completion": r.completion, "rate": r.rate, "lower": r.lower,
                          "upper": r.upper, "egregious": r.rate >= cfg.understanding_threshold}
                         for r in results[:12]]}
