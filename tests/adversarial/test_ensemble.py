"""EnsembleClassifier: max over members, and a threshold set again at the rejection budget."""

from __future__ import annotations

import numpy as np
import pytest

from nines.adversarial.ensemble import EnsembleClassifier
from nines.classify.calibrate import CalibrationConfig
from nines.classify.pools import CleanPool


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


def test_an_extra_clean_pool_binds_the_ensemble_threshold_too():
    rng = np.random.default_rng(1)
    texts = [f"t{i}" for i in range(1000)]
    prose = [f"p{i}" for i in range(400)]
    table = dict(zip(texts, rng.random(1000) * 0.5))  # the main pool scores low...
    table.update(zip(prose, 0.4 + rng.random(400) * 0.6))  # ...the prose pool high
    ens = EnsembleClassifier([TableClassifier(table)])
    pool = CleanPool("prose", ["p"] * 400, prose, budget=0.2)
    choice = ens.calibrate_threshold(["p"] * 1000, texts, config=CalibrationConfig(rejection_budget=0.05),
                                     pools=[pool])
    prose_rate = np.mean(ens.score(["p"] * 400, prose) > ens.threshold)
    assert 0.18 < prose_rate <= 0.2  # the pool's budget is what binds
    assert choice.rejection_rate < 0.01  # so the main pool is rejected far below its 5%
    assert [p.name for p in ens.pools] == ["clean", "prose"]
    assert ens.pools[1].rejection_rate == pytest.approx(prose_rate)
    # Without the pool, the main pool's budget alone sets a lower threshold.
    lower = EnsembleClassifier([TableClassifier(table)])
    lower.calibrate_threshold(["p"] * 1000, texts, config=CalibrationConfig(rejection_budget=0.05))
    assert lower.threshold < ens.threshold
