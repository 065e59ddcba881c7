"""EnsembleClassifier: max over members, and a threshold set again at the rejection budget."""

from __future__ import annotations

import numpy as np
import pytest

from nines.adversarial.ensemble import EnsembleClassifier
from nines.classify.calibrate import CalibrationConfig


class TableClassifier:
    """Scores looked up from a dict (a member whose every score the test knows)."""

    def __init__(self, table: dict[str, float], threshold: float = 0.5) -> None:
        self.table, self.threshold = table, threshold

    def score(self, prompts, completions):
        return np.array([self.table[c] for c in completions])


def test_score_is_max_over_members():
    a = TableClassifier({"x": 0.1, "y": 0.9, "z": 0.4})
    b = TableClassifier({"x": 0.3, "y": 0.2, "z": 0.4})
    ens = EnsembleClassifier([a, b])
    np.testing.assert_allclose(ens.score(["p"] * 3, ["x", "y", "z"]), [0.3, 0.9, 0.4])
    assert ens.member_scores(["p"], ["x"]).shape == (2, 1)


def test_threshold_rejects_at_most_the_budget_of_clean_samples():
    rng = np.random.default_rng(0)
    texts = [f"t{i}" for i in range(2000)]
    members = [TableClassifier(dict(zip(texts, rng.random(2000)))) for _ in range(3)]
    ens = EnsembleClassifier(members)
    choice = ens.calibrate_threshold(["p"] * 2000, texts, config=CalibrationConfig(rejection_budget=0.05))
    rejected = np.mean(ens.score(["p"] * 2000, texts) > ens.threshold)
    assert rejected <= 0.05 and rejected > 0.04
    assert choice.threshold == ens.threshold
    # The max of three uniforms is far above a single member's 95th percentile: the members' own
    # thresholds would reject far more than the budget, which is why the ensemble recalibrates.
    assert ens.threshold > 0.95


def test_empty_ensemble_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        EnsembleClassifier([])
