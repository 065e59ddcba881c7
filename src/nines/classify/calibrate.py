"""Temperature scaling and choosing the threshold from data by a stated rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy.optimize import minimize_scalar

from nines.classify.metrics import recall_at, threshold_at_recall, threshold_at_rejection
from nines.classify.pools import CleanPool, PoolResult, pool_results, resolve_pools, threshold_over_pools
from nines.data.record import Snippet

if TYPE_CHECKING:
    from nines.classify.encoder import EncoderClassifier


@dataclass
class CalibrationConfig:
    """How the threshold is chosen.

    Attributes:
        rule: ``rejection_budget``: the most conservative threshold that rejects at most
            ``rejection_budget`` of first samples on the clean prompt distribution (no labels needed);
            ``target_recall``: the highest threshold catching at least ``target_recall`` of labelled
            injurious snippets.
        rejection_budget: the largest share of first samples the user allows the filter to reject.
        target_recall: the recall asked for under the ``target_recall`` rule.
        fit_temperature: fit a temperature on held-out labelled data (else keep 1.0).
        pools: extra clean pools, ``SOURCE[@BUDGET]`` each (see :mod:`nines.classify.pools`):
            ``prose`` (the real-prose corpus's safe calibration rows, held out of training) or a JSONL
            of first samples. Under ``rejection_budget`` the threshold keeps every pool within its
            budget; the rate on each pool is reported in the calibration info under either rule.
    """

    rule: Literal["rejection_budget", "target_recall"] = "rejection_budget"
    rejection_budget: float = 0.05
    target_recall: float = 0.99
    fit_temperature: bool = True
    pools: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.rejection_budget < 1:
            raise ValueError("calibrate.rejection_budget must be in (0, 1), e.g. 0.05 for 5% of first samples")
        if not 0 < self.target_recall <= 1:
            raise ValueError("calibrate.target_recall must be in (0, 1], e.g. 0.99")
        from nines.classify.pools import parse_pool_spec

        for spec in self.pools:
            parse_pool_spec(spec)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the NLL of ``sigmoid(logit / T)`` on held-out labels.

    Optimised over log T in [-4, 4] (T from 0.02 to 55) so it stays positive and bounded.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(z) == 0 or y.min() == y.max():
        raise ValueError("temperature fitting needs held-out snippets of both labels")

    def nll(log_t: float) -> float:
        s = z / np.exp(log_t)
        return float(np.mean(np.logaddexp(0.0, s) - y * s))

    res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return float(np.exp(res.x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of |accuracy - confidence| weighted by bin mass."""
    p = np.asarray(probs)
    y = np.asarray(labels, dtype=np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


@dataclass
class ThresholdChoice:
    """The chosen threshold and what it means on the data it was chosen from."""

    threshold: float
    rule: str
    rejection_rate: float  # share of clean first samples rejected
    recall: float | None  # share of labelled injurious snippets rejected (None without them)
    n_clean: int
    n_injurious: int


def choose_threshold(
    config: CalibrationConfig, clean_scores: np.ndarray, injurious_scores: np.ndarray | None = None
) -> ThresholdChoice:
    """Pick the threshold by ``config.rule``.

    Args:
        config: the rule and its parameter.
        clean_scores: calibrated scores of first samples on the clean prompt distribution.
        injurious_scores: calibrated scores of labelled injurious snippets (needed for ``target_recall``).
    """
    clean = np.asarray(clean_scores, dtype=np.float64)
    inj = None if injurious_scores is None else np.asarray(injurious_scores, dtype=np.float64)
    if config.rule == "rejection_budget":
        t = threshold_at_rejection(clean, config.rejection_budget)
    else:
        if inj is None or len(inj) == 0:
            raise ValueError("the target_recall rule needs labelled injurious snippets; "
                             "use calibrate.rule=rejection_budget or add labelled data")
        t = threshold_at_recall(inj, config.target_recall)
    return ThresholdChoice(
        threshold=t, rule=config.rule, rejection_rate=float(np.mean(clean > t)),
        recall=None if inj is None or len(inj) == 0 else recall_at(inj, t),
        n_clean=len(clean), n_injurious=0 if inj is None else len(inj),
    )


def choose_threshold_over_pools(config: CalibrationConfig, clean_scores: np.ndarray, injurious_scores: np.ndarray,
                                main: CleanPool, extra: Sequence[CleanPool],
                                score: Callable[[CleanPool], np.ndarray]) -> tuple[ThresholdChoice, list[PoolResult]]:
    """:func:`choose_threshold`, with extra clean pools: under the rejection budget every pool binds.

    Args:
        config: the rule, its budget (the default for pools without their own).
        clean_scores: scores of ``main``, the main clean pool (reported as its ``name``).
        injurious_scores: labelled injurious scores (for ``target_recall`` and the recall reported).
        main: the main clean pool.
        extra: more clean pools; each is scored with ``score``.
        score: scores one pool's pairs with the classifier being calibrated.

    Returns:
        The choice (its rejection rate is on the main pool) and each pool's rate at its threshold.
    """
    choice = choose_threshold(config, clean_scores, injurious_scores)
    pools = [main, *extra]
    scores = [np.asarray(clean_scores, dtype=np.float64)] + [score(p) for p in extra]
    if config.rule != "rejection_budget" or not extra:  # the rule's own threshold; pools reported at it
        return choice, pool_results(scores, pools, config.rejection_budget, choice.threshold)
    t, per_pool = threshold_over_pools(scores, pools, config.rejection_budget)
    inj = np.asarray(injurious_scores, dtype=np.float64)
    return ThresholdChoice(t, choice.rule, float(np.mean(scores[0] > t)), recall_at(inj, t) if len(inj) else None,
                           choice.n_clean, choice.n_injurious), per_pool


@dataclass
class TradeoffCurve:
    """Rejection rate on clean first samples and recall on injurious snippets, per threshold."""

    thresholds: np.ndarray
    rejection_rate: np.ndarray
    recall: np.ndarray


def tradeoff_curve(clean_scores: np.ndarray, injurious_scores: np.ndarray, points: int = 200) -> TradeoffCurve:
    """The whole trade-off, at thresholds spread over the quantiles of all scores (log-spaced tails)."""
    allscores = np.concatenate([np.asarray(clean_scores), np.asarray(injurious_scores)])
    qs = np.unique(np.concatenate([np.linspace(0, 1, points), 1 - np.logspace(-5, -1, points // 4)]))
    ts = np.unique(np.quantile(allscores, np.clip(qs, 0, 1)))
    clean = np.sort(np.asarray(clean_scores))
    inj = np.sort(np.asarray(injurious_scores))
    rej = 1 - np.searchsorted(clean, ts, side="right") / max(1, len(clean))
    rec = 1 - np.searchsorted(inj, ts, side="right") / max(1, len(inj))
    return TradeoffCurve(ts, rej, rec)


@dataclass
class Calibration:
    """What :func:`calibrate_classifier` chose, and the scores it chose it from.

    Attributes:
        temperature: the fitted temperature (1.0 when ``fit_temperature`` is off).
        ece_before: expected calibration error on ``val`` before temperature scaling.
        ece_after: ... and after.
        rule: the threshold rule (see :class:`CalibrationConfig`).
        threshold: the chosen threshold on the calibrated score; rejection is ``score > threshold``.
        clean_rejection_rate: share of the main clean pool's first samples rejected at ``threshold``.
        val_recall: share of ``val``'s injurious snippets rejected (``None`` without any).
        n_clean: first samples in the main clean pool.
        n_val: labelled ``val`` snippets used.
        rejection_budget: the budget in force.
        pools: each clean pool (the main one is ``clean``) at the chosen threshold.
        curve: the recall / rejection trade-off on the main pool and ``val``.
        val_scores: calibrated scores of the labelled ``val`` snippets.
        val_labels: their labels (1 = injurious).
        clean_scores: calibrated scores of the main clean pool.
    """

    temperature: float
    ece_before: float
    ece_after: float
    rule: str
    threshold: float
    clean_rejection_rate: float
    val_recall: float | None
    n_clean: int
    n_val: int
    rejection_budget: float
    pools: list[PoolResult]
    curve: TradeoffCurve
    val_scores: np.ndarray
    val_labels: np.ndarray
    clean_scores: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """The figures, as saved in ``nines.json`` and ``summary.json`` (the per-sample arrays are left out)."""
        return {
            "temperature": self.temperature, "ece_before": self.ece_before, "ece_after": self.ece_after,
            "rule": self.rule, "threshold": self.threshold, "clean_rejection_rate": self.clean_rejection_rate,
            "val_recall": self.val_recall, "n_clean": self.n_clean, "n_val": self.n_val,
            "rejection_budget": self.rejection_budget, "pools": {r.name: r.to_dict() for r in self.pools},
        }


def calibrate_classifier(clf: EncoderClassifier, val: Sequence[Snippet], clean_prompts: list[str],
                         clean_completions: list[str], cfg: CalibrationConfig,
                         pools: Sequence[CleanPool] | None = None) -> Calibration:
    """Fit the temperature on ``val``, then set the threshold from clean first samples by ``cfg.rule``.

    ``clean_prompts``/``clean_completions`` are the main pool (reported as ``clean``). ``pools``
    adds more; when ``None`` they are built from ``cfg.pools``. Under ``rejection_budget`` the
    threshold keeps every pool within its budget. Sets ``clf``'s temperature, threshold and
    ``meta.calibration`` (:meth:`Calibration.to_dict`).
    """
    decided = [s for s in val if s.is_injurious is not None]
    y = np.array([s.is_injurious for s in decided], dtype=float)
    z = clf.logits([s.prompt for s in decided], [s.completion for s in decided], progress=True)
    ece_before = expected_calibration_error(1 / (1 + np.exp(-z)), y)
    if cfg.fit_temperature:
        clf.meta.temperature = fit_temperature(z, y)
    p_val = 1 / (1 + np.exp(-z / clf.meta.temperature))
    clean = clf.score(clean_prompts, clean_completions, progress=True)
    choice, per_pool = choose_threshold_over_pools(
        cfg, clean, p_val[y > 0], CleanPool("clean", list(clean_prompts), list(clean_completions)),
        list(resolve_pools(cfg.pools)) if pools is None else list(pools),
        lambda p: clf.score(p.prompts, p.completions, progress=True))
    clf.threshold = choice.threshold
    cal = Calibration(
        temperature=clf.meta.temperature, ece_before=ece_before, ece_after=expected_calibration_error(p_val, y),
        rule=choice.rule, threshold=choice.threshold, clean_rejection_rate=choice.rejection_rate,
        val_recall=choice.recall, n_clean=choice.n_clean, n_val=len(decided), rejection_budget=cfg.rejection_budget,
        pools=per_pool, curve=tradeoff_curve(clean, p_val[y > 0]), val_scores=p_val, val_labels=y, clean_scores=clean,
    )
    clf.meta.calibration = cal.to_dict()
    return cal
