"""Labelling plans for rare failure rates: which unfiltered samples to label, with their inclusion probabilities.

``nines evaluate --plan N`` draws ``pool_size`` unfiltered samples per prompt from the team's
generator, scores them (cheap), and picks N of the accepted ones to label, concentrated where
accepted failures live (:mod:`nines.stats.rare`: importance sampling with replacement, or
:mod:`nines.stats.rare_stratified`: stratified by score). The target is the filtered policy
itself: p_i = 1 / (m n_acc(x_i)) on accepted items (:func:`~nines.stats.rare.filtered_target_weights`),
so the estimand is the filtered failure rate over the plan's prompts (those with an accepted sample).

Each planned row carries what the estimator needs (its selection and target probabilities, its
stratum's size and weight), so labels can come back from a JSONL file or from the store dataset
the plan was imported into (the labelling queue serves it), and :func:`estimate_from_plan` needs
nothing else. The same pools also give the coupled win-rate design's pairs (:func:`coupled_pairs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from nines.classify.base import Classifier
from nines.evaluate.labels_source import LabelledRow
from nines.generate.base import Completion, Generator, PromptLike, as_prompts
from nines.stats.binomial import clopper_pearson
from nines.stats.labels_needed import LabelsVerdict, design_verdict
from nines.stats.rare import (
    ImportanceSample,
    filtered_target_weights,
    importance_estimate,
    importance_sample,
    proposal_density,
)
from nines.stats.rare_stratified import StratifiedSample, stratified_estimate, stratified_sample

__all__ = ["LabellingPlan", "PlanConfig", "PlanEstimate", "coupled_pairs", "estimate_from_plan", "make_plan"]

Design = Literal["importance", "stratified"]


@dataclass
class PlanConfig:
    """Settings of ``nines evaluate --plan N`` (config keys ``plan.*``).

    Attributes:
        design: ``importance`` (with replacement, Hansen-Hurwitz) or ``stratified`` (by score).
        pool_size: unfiltered samples drawn and scored per prompt.
        proposal: importance proposal (``near_threshold``, ``score`` or ``uniform``).
        width: ``near_threshold`` proposal width below the threshold.
        floor: the proposal's floor (bounds the weights).
        strata: stratified design: interior score edges as quantiles of the accepted scores.
        allocation: stratified allocation, ``neyman`` or ``proportional``.
        name: the plan's name (and the store dataset's, when imported).
        seed: seeds the pools and the draws.
    """

    design: str = "importance"
    pool_size: int = 8
    proposal: str = "near_threshold"
    width: float = 0.05
    floor: float = 0.05
    strata: list[float] = field(default_factory=lambda: [0.5, 0.8, 0.9, 0.95])
    allocation: str = "neyman"
    name: str = "plan"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.design not in ("importance", "stratified"):
            raise ValueError(f"plan.design must be 'importance' or 'stratified', got {self.design!r}")
        if self.pool_size < 1:
            raise ValueError("plan.pool_size must be >= 1 (e.g. 8)")
        if any(not 0 < q < 1 for q in self.strata):
            raise ValueError("plan.strata are quantiles of the accepted scores, each in (0, 1), e.g. [0.5, 0.9]")


@dataclass
class LabellingPlan:
    """A plan: the rows to label, the coupled win-rate pairs, and the pool behind them.

    Attributes:
        rows: one JSON-ready row per distinct item to label (``prompt_id``, ``prompt``, ``completion``,
            ``score``, ``inclusion_probability``, ``label`` null, ``plan`` design facts).
        pairs: coupled-design comparison tasks (``prompt``, ``first`` filtered, ``second`` unfiltered, ``meta``).
        summary: the plan's figures (pool size, accepted share, design, labels).
        pool_scores, pool_accepted, pool_target, pool_inclusion: every pool item's score, acceptance,
            target weight p_i and probability of being in the plan (not written; for checks).
    """

    rows: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    summary: dict[str, Any]
    pool_scores: np.ndarray
    pool_accepted: np.ndarray
    pool_target: np.ndarray
    pool_inclusion: np.ndarray


def _pools(generator: Generator, clf: Classifier, prompts: Sequence[PromptLike], size: int,
           seed: int) -> tuple[list[Any], list[list[Completion]], np.ndarray]:
    ps = as_prompts(prompts)
    if not ps:
        raise ValueError("the plan needs prompts: give --prompts FILE")
    comps = generator.generate(ps, n=size, seed=seed)
    flat = np.asarray(clf.score([p.text for p, cs in zip(ps, comps) for _ in cs], [c.text for cs in comps for c in cs]),
                      dtype=float)
    return ps, comps, np.nan_to_num(flat, nan=1.0).reshape(len(ps), size)


def make_plan(generator: Generator, clf: Classifier, prompts: Sequence[PromptLike], n_labels: int,
              cfg: PlanConfig) -> LabellingPlan:
    """Draw the pools and choose ``n_labels`` labels (see the module docstring).

    Raises:
        ValueError: no prompts, or nothing in the pools is accepted.
    """
    ps, comps, scores = _pools(generator, clf, prompts, cfg.pool_size, cfg.seed)
    t = float(clf.threshold)
    s = scores.reshape(-1)
    ids = np.repeat([p.id for p in ps], cfg.pool_size)
    acc = s <= t
    if not acc.any():
        raise ValueError(f"no pool sample scores at or under the threshold {t:.4g}: the filter accepts nothing")
    p = filtered_target_weights(acc, ids)
    base = {"name": cfg.name, "design": cfg.design, "threshold": t, "pool_prompts": len(ps),
            "pool_size": cfg.pool_size}
    if cfg.design == "importance":
        smp = importance_sample(s, t, n_labels, cfg.proposal, target_weights=p, floor=cfg.floor,  # type: ignore[arg-type]
                                width=cfg.width, seed=cfg.seed + 1)
        g = p * proposal_density(s, t, cfg.proposal, cfg.floor, cfg.width)  # type: ignore[arg-type]
        q_pool = g / g.sum()  # the selection probability importance_sample drew with
        inclusion = 1 - (1 - q_pool) ** n_labels
        idx, draws = np.unique(smp.indices, return_counts=True)
        facts = [{**base, "draws": int(k), "q": float(q_pool[i]), "p": float(p[i]), "n_draws": int(n_labels),
                  "max_weight": smp.max_weight} for i, k in zip(idx, draws)]
    else:
        acc_s = s[acc]
        edges = np.unique(np.quantile(acc_s, cfg.strata)) if len(acc_s) > 1 else np.array([])
        smp2 = stratified_sample(s, t, edges, n_labels, cfg.allocation, target_weights=p, seed=cfg.seed + 1)  # type: ignore[arg-type]
        idx = smp2.indices
        h_of = np.searchsorted(smp2.edges[1:-1], s, side="right")
        inclusion = np.where(acc, (smp2.n_per_stratum / np.maximum(smp2.pop_size, 1))[h_of], 0.0)
        strata = [{"size": int(n), "labels": int(k), "weight": float(w)}
                  for n, k, w in zip(smp2.pop_size, smp2.n_per_stratum, smp2.stratum_weight)]
        facts = [{**base, "stratum": int(h), "p": float(p[i]), "strata": strata, "edges": smp2.edges.tolist()}
                 for i, h in zip(idx, smp2.stratum)]
    flat_c = [c for cs in comps for c in cs]
    rows = [{"prompt_id": ids[i], "prompt": ps[i // cfg.pool_size].text, "completion": flat_c[i].text,
             "label": None, "source": "plan", "score": float(s[i]), "inclusion_probability": float(inclusion[i]),
             "plan": f} for i, f in zip(idx, facts)]
    pairs = coupled_pairs(ps, comps, scores, t, cfg.name)
    summary = {**base, "labels": int(n_labels), "rows": len(rows), "pool_items": int(s.size),
               "accepted_share": float(acc.mean()), "prompts_with_accepted": int(len(set(ids[acc]))),
               "pairs": len(pairs), "strata_edges": facts[0].get("edges") if facts else None}
    return LabellingPlan(rows, pairs, summary, s, acc, p, inclusion)


def coupled_pairs(prompts: Sequence[Any], comps: Sequence[Sequence[Completion]], scores: np.ndarray, threshold: float,
                  name: str) -> list[dict[str, Any]]:
    """The coupled win-rate design's comparison tasks from the pools (:mod:`nines.evaluate.winrate`).

    Per prompt the pool's first sample c1 is the unfiltered draw. If the filter accepts it, both policies
    return it and the prompt counts exactly 1/2 with no comparison; otherwise the first accepted later
    sample is the filtered one f (rejection sampling on fresh draws, at most ``pool_size`` in all) and
    the pair (f, c1) is queued; a prompt with nothing accepted is refused. Each task's ``meta`` carries
    the plan's counts, so the comparisons alone give the estimate (:func:`nines.evaluate.labelled_winrate`).
    """
    acc = scores <= threshold
    first_ok = acc[:, 0]
    tasks = []
    refused = 0
    for p, cs, a, ok in zip(prompts, comps, acc, first_ok):
        if ok:
            continue
        later = np.flatnonzero(a[1:])
        if not len(later):
            refused += 1
            continue
        tasks.append({"prompt": p.text, "first": cs[1 + int(later[0])].text, "second": cs[0].text,
                      "meta": {"design": "coupled", "plan": name, "prompt_id": p.id}})
    counts = {"plan_prompts": len(prompts), "plan_accepted_first": int(first_ok.sum()), "plan_pairs": len(tasks),
              "plan_refused": refused}
    for task in tasks:
        task["meta"].update(counts)
    return tasks


@dataclass
class PlanEstimate:
    """The filtered failure rate estimated from a plan's labels.

    Attributes:
        plan: the plan's name; design: ``importance`` or ``stratified``.
        estimate: the :class:`~nines.stats.rare.RareEstimate` as a dict (``None`` when it cannot be made).
        labels, failures: labelled plan rows (distinct items) and failures among them.
        unlabelled: planned rows without a decided label yet.
        verdict: whether the figure stands, and how many more labels would show the target.
    """

    plan: str
    design: str
    estimate: dict[str, Any] | None
    labels: int
    failures: int
    unlabelled: int | None
    verdict: LabelsVerdict

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        d = asdict(self)
        d["verdict"] = self.verdict.to_dict()
        return d


def _importance(rows: Sequence[LabelledRow], facts: list[dict[str, Any]], cfg_conf: float,
                target: float, min_failures: int) -> tuple[dict[str, Any], LabelsVerdict, int | None]:
    draws = np.array([int(f["draws"]) for f in facts])
    y = np.repeat([r.label for r in rows], draws)
    q, p = np.repeat([f["q"] for f in facts], draws), np.repeat([f["p"] for f in facts], draws)
    n_total, w = int(facts[0]["n_draws"]), float(facts[0]["max_weight"])
    smp = ImportanceSample(np.arange(len(y)), q, p, 1 - (1 - q) ** len(y), w, 0)
    est = importance_estimate(y, smp, cfg_conf)
    v = design_verdict(est.n_failures, est.n_labels, est.upper, est.conservative_upper,
                       lambda m: min(1.0, w * clopper_pearson(0, m, cfg_conf).upper), target, cfg_conf, min_failures)
    return est.to_dict(), v, max(n_total - int(draws.sum()), 0)


def _stratified(rows: Sequence[LabelledRow], facts: list[dict[str, Any]], conf: float,
                target: float, min_failures: int) -> tuple[dict[str, Any] | None, LabelsVerdict, int | None]:
    strata = facts[0]["strata"]
    H = len(strata)
    N = np.array([s["size"] for s in strata])
    W = np.array([s["weight"] for s in strata])
    h = np.array([int(f["stratum"]) for f in facts])
    nh = np.bincount(h, minlength=H)
    planned = int(sum(s["labels"] for s in strata))
    missing = [k for k in range(H) if W[k] > 0 and nh[k] == 0]
    if missing:
        more = int(sum(strata[k]["labels"] for k in missing))
        v = LabelsVerdict("too_few", target, math.nan, len(rows), more,
                          f"strata {missing} of the plan have no label yet; label at least {more:,} more of their rows")
        return None, v, planned - len(rows)
    order = np.argsort(h, kind="stable")
    p = np.array([float(f["p"]) for f in facts])[order]
    y = np.array([r.label for r in rows])[order]
    smp = StratifiedSample(np.arange(len(rows)), h[order], N, nh, W, np.array(facts[0]["edges"]), p)
    est = stratified_estimate(y, smp, conf)
    conf_h = 1 - (1 - conf) / max(H, 1)

    def zero_bound(m: int) -> float:
        k = np.maximum(np.round(nh * m / max(len(rows), 1)).astype(int), 1)
        return min(1.0, float(sum(w * clopper_pearson(0, int(min(kk, n)), conf_h).upper
                                  for w, kk, n in zip(W, k, N) if w > 0)))

    v = design_verdict(est.n_failures, est.n_labels, est.upper, est.conservative_upper, zero_bound, target, conf,
                       min_failures)
    return est.to_dict(), v, max(planned - len(rows), 0)


def estimate_from_plan(rows: Sequence[LabelledRow], confidence: float = 0.95, target: float = 0.01,
                       unlabelled: int | None = None, min_failures: int = 10) -> PlanEstimate:
    """The plan's estimate from its labelled rows (each row's ``meta["plan"]`` holds the design facts).

    Under ``min_failures`` labelled failures the reported figure is the design's conservative upper
    bound (see :func:`nines.stats.labels_needed.design_verdict`).

    Raises:
        ValueError: no plan rows, or rows of several plans or designs mixed.
    """
    facts = [r.meta.get("plan") for r in rows]
    if not rows or any(not isinstance(f, dict) for f in facts):
        raise ValueError("these labels carry no plan facts: write a plan with `nines evaluate --plan N` first")
    names = {(f["name"], f["design"]) for f in facts}  # type: ignore[index]
    if len(names) != 1:
        raise ValueError(f"labels of several plans are mixed ({sorted(names)}); evaluate one plan at a time")
    name, design = next(iter(names))
    fn = _importance if design == "importance" else _stratified
    est, v, missing = fn(rows, facts, confidence, target, min_failures)  # type: ignore[arg-type]
    failures = sum(r.label for r in rows)
    return PlanEstimate(name, design, est, len(rows), failures, unlabelled if unlabelled is not None else missing, v)
