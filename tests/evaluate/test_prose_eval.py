"""Real-prose metrics against sklearn and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from nines.evaluate.prose_eval import LabelledSet, evaluate_prose, recall_at_false_flag_rate, roc_auc


@pytest.mark.parametrize("seed", range(4))
def test_auc_matches_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.3
    s = np.round(rng.normal(y * 1.0, 1.0), 1)  # rounding makes ties
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s))
    assert roc_auc(s, np.zeros(300, dtype=bool)) is None


def test_recall_at_false_flag_rate_is_the_best_within_the_rate() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.4
    s = rng.normal(y * 1.5, 1.0)
    r = recall_at_false_flag_rate(s, y, 0.1)
    ok = [t for t in np.sort(s) if np.mean(s[~y] > t) <= 0.1]
    assert r == pytest.approx(max(np.mean(s[y] > t) for t in ok))


class TableClassifier:
    threshold = 0.5

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: list[str], completions: list[str]) -> np.ndarray:
        return np.array([self.table[c] for c in completions])


def test_evaluate_prose_counts_at_threshold_and_matches_reference_rate() -> None:
    table = {"a": 0.9, "b": 0.2, "c": 0.7, "d": 0.1, "e": 0.6, "f": 0.4}
    ref = LabelledSet("ref", ["p"] * 4, ["a", "b", "c", "d"], np.array([1, 1, 0, 0], dtype=bool))
    other = LabelledSet("other", ["p"] * 3, ["e", "f", "d"], np.array([1, 0, 0], dtype=bool))
    m_ref, m_other = evaluate_prose(TableClassifier(table), [ref, other])
    assert (m_ref.recall.k, m_ref.recall.n) == (1, 2) and (m_ref.false_flag_rate.k, m_ref.false_flag_rate.n) == (1, 2)
    assert m_other.matched_false_flag_rate == 0.5  # the reference's false-flag rate at 0.5
    assert (m_other.recall.k, m_other.false_flag_rate.k) == (1, 0) and m_other.auc == 1.0
