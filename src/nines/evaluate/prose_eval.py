"""How the classifier does on real prose: the seed set's and the corpus's test parts, and the dev set.

StoryWorld's figures say how the filter does on StoryWorld's grammar; these say whether the
threshold means anything on text people write. Each labelled set gets recall and false-flag rate
at the shipped threshold (Clopper-Pearson intervals), ROC AUC, and recall at a *matched*
false-flag rate: the rate the shipped threshold gives on a reference set (the seed set's test
part), so a set whose scores are shifted is judged by its ranking, not only by the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nines.stats.binomial import Interval, binomial_interval


@dataclass(frozen=True)
class LabelledSet:
    """A named set of labelled pairs (1 = injurious)."""

    name: str
    prompts: list[str]
    completions: list[str]
    labels: np.ndarray

    @classmethod
    def from_snippets(cls, name: str, snippets: Sequence[Any]) -> LabelledSet:
        decided = [s for s in snippets if s.is_injurious is not None]
        return cls(name, [s.prompt for s in decided], [s.completion for s in decided],
                   np.array([bool(s.is_injurious) for s in decided], dtype=bool))


@dataclass(frozen=True)
class ProseMetrics:
    """One set's figures at the shipped threshold."""

    name: str
    n: int
    n_injurious: int
    recall: Interval
    false_flag_rate: Interval
    auc: float | None
    matched_false_flag_rate: float | None
    recall_at_matched: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "n": self.n, "n_injurious": self.n_injurious, "recall": self.recall.to_dict(),
                "false_flag_rate": self.false_flag_rate.to_dict(), "auc": self.auc,
                "matched_false_flag_rate": self.matched_false_flag_rate, "recall_at_matched": self.recall_at_matched}


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC (ties count half), or ``None`` when one class is absent."""
    from scipy.stats import rankdata

    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def recall_at_false_flag_rate(scores: np.ndarray, labels: np.ndarray, ffr: float) -> float | None:
    """Recall at the smallest threshold whose false-flag rate on the negatives is at most ``ffr``."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.sum() == 0 or (~y).sum() == 0:
        return None
    from nines.classify.metrics import threshold_at_rejection

    t = threshold_at_rejection(s[~y], ffr)
    return float(np.mean(s[y] > t))


def set_metrics(name: str, scores: np.ndarray, labels: np.ndarray, threshold: float,
                matched_ffr: float | None = None) -> ProseMetrics:
    """Figures for one set of scores at ``threshold``."""
    y = np.asarray(labels, dtype=bool)
    flagged = np.asarray(scores) > threshold
    return ProseMetrics(
        name=name, n=len(y), n_injurious=int(y.sum()),
        recall=binomial_interval(int(flagged[y].sum()), int(y.sum())),
        false_flag_rate=binomial_interval(int(flagged[~y].sum()), int((~y).sum())),
        auc=roc_auc(scores, y), matched_false_flag_rate=matched_ffr,
        recall_at_matched=None if matched_ffr is None else recall_at_false_flag_rate(scores, y, matched_ffr),
    )


def evaluate_prose(clf: Any, sets: Sequence[LabelledSet], reference: str | None = None) -> list[ProseMetrics]:
    """Score each set with ``clf`` and compute its figures at ``clf.threshold``.

    Args:
        clf: a calibrated classifier (``score``, ``threshold``).
        sets: the labelled sets; empty ones are skipped.
        reference: the set whose false-flag rate at the threshold defines the matched operating
            point for the others (default: the first set).
    """
    sets = [s for s in sets if len(s.labels)]
    scored = {s.name: np.asarray(clf.score(s.prompts, s.completions)) for s in sets}
    ref = reference or (sets[0].name if sets else None)
    matched = None
    if ref in scored:
        ref_set = next(s for s in sets if s.name == ref)
        neg = scored[ref][~ref_set.labels]
        matched = float(np.mean(neg > clf.threshold)) if len(neg) else None
    return [set_metrics(s.name, scored[s.name], s.labels, clf.threshold, matched) for s in sets]


def real_prose_sets(seed_test: Sequence[Any], prose_test: Sequence[Any]) -> list[LabelledSet]:
    """The seed set's and corpus's test parts, and the third-party dev set when ``../shared`` is there."""
    sets = [LabelledSet.from_snippets("seed_test", seed_test), LabelledSet.from_snippets("prose_test", prose_test)]
    from nines.data.devset import DevsetUnavailable, load_devset, refs_path

    if not refs_path().is_file():
        return sets
    try:
        dev = load_devset()
    except DevsetUnavailable:  # no ../shared on this machine: the dev set is skipped, not faked
        return sets
    if dev:
        sets.append(LabelledSet("devset", [d.prompt for d in dev], [d.completion for d in dev],
                                np.array([d.label == "injurious" for d in dev], dtype=bool)))
    return sets
