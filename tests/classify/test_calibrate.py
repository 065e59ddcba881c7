"""Calibration and threshold rules, checked against exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from nines.classify.calibrate import CalibrationConfig, choose_threshold, fit_temperature, tradeoff_curve
from nines.classify.metrics import recall_at_rejection, threshold_at_recall, threshold_at_rejection


def test_temperature_recovers_the_true_scale() -> None:
    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2, 50_000)
    y = rng.random(50_000) < 1 / (1 + np.exp(-true_logit))
    # An over-confident model outputs 3x the true logit; the fitted temperature must undo it.
    assert fit_temperature(3 * true_logit, y) == pytest.approx(3.0, rel=0.05)


def test_rejection_budget_never_exceeded_even_with_ties() -> None:
    scores = np.array([0.1] * 90 + [0.9] * 10)
    t = threshold_at_rejection(scores, 0.05)
    assert np.mean(scores > t) <= 0.05
    rng = np.random.default_rng(1)
    for _ in range(200):
        s = rng.random(rng.integers(1, 500)).round(2)
        b = rng.uniform(0.001, 0.5)
        t = threshold_at_rejection(s, b)
        assert np.mean(s > t) <= b + 1e-12
        # ... and it is the most conservative such threshold: any lower observed score would exceed the budget.
        lower = s[s < t]
        if len(lower):
            assert np.mean(s > lower.max()) > b


def test_target_recall_rule() -> None:
    inj = np.linspace(0.01, 1.0, 100)
    t = threshold_at_recall(inj, 0.9)
    assert np.mean(inj > t) >= 0.9
    assert np.mean(inj > t + 0.011) < 0.9
    cfg = CalibrationConfig(rule="target_recall", target_recall=0.9)
    choice = choose_threshold(cfg, clean_scores=np.zeros(10), injurious_scores=inj)
    assert choice.recall == pytest.approx(0.9)
    with pytest.raises(ValueError, match="needs labelled injurious"):
        choose_threshold(cfg, np.zeros(10), None)


def test_recall_at_rejection_and_curve() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.95])
    labels = np.array([0, 0, 0, 0, 1, 1])
    assert recall_at_rejection(scores, labels, 0.25) == 1.0
    curve = tradeoff_curve(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.9, 0.95]))
    assert np.all(np.diff(curve.rejection_rate) <= 0) and np.all(np.diff(curve.recall) <= 0)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="rejection_budget"):
        CalibrationConfig(rejection_budget=1.5)


class _TableClassifier:
    """Logits looked up by completion text; ``score`` applies the temperature like the encoder does."""

    def __init__(self, logits: dict[str, float]) -> None:
        from nines.classify.encoder import ClassifierMeta

        self.table, self.meta = logits, ClassifierMeta()

    @property
    def threshold(self) -> float:
        return self.meta.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.meta.threshold = float(value)

    def logits(self, prompts: list[str], completions: list[str], progress: bool = False) -> np.ndarray:
        return np.array([self.table[c] for c in completions])

    def score(self, prompts: list[str], completions: list[str], progress: bool = False) -> np.ndarray:
        return 1 / (1 + np.exp(-self.logits(prompts, completions) / self.meta.temperature))


def test_calibrate_classifier_returns_a_typed_calibration() -> None:
    from nines.classify.calibrate import Calibration, calibrate_classifier
    from nines.data.record import Snippet

    rng = np.random.default_rng(0)
    val = [Snippet("p", f"v{i}", "injurious" if i % 3 == 0 else "safe") for i in range(300)]
    table = {s.completion: float(rng.normal(3 if s.is_injurious else -3, 2)) for s in val}
    table.update({f"c{i}": float(rng.normal(-3, 2)) for i in range(1000)})
    clf = _TableClassifier(table)
    cal = calibrate_classifier(clf, val, ["p"] * 1000, [f"c{i}" for i in range(1000)],
                               CalibrationConfig(rejection_budget=0.05))
    assert isinstance(cal, Calibration)
    assert cal.threshold == clf.threshold and cal.temperature == clf.meta.temperature
    assert cal.clean_rejection_rate <= 0.05 and cal.n_clean == 1000 and cal.n_val == 300
    assert np.mean(cal.clean_scores > cal.threshold) == pytest.approx(cal.clean_rejection_rate)
    assert len(cal.val_scores) == len(cal.val_labels) == 300 and cal.val_labels.sum() == 100
    assert [p.name for p in cal.pools] == ["clean"] and cal.pools[0].rejection_rate == cal.clean_rejection_rate
    d = cal.to_dict()
    # The JSON saved in nines.json and summary.json: the figures, without the per-sample arrays.
    assert set(d) == {"temperature", "ece_before", "ece_after", "rule", "threshold", "clean_rejection_rate",
                      "val_recall", "n_clean", "n_val", "rejection_budget", "pools"}
    assert d["pools"]["clean"]["n"] == 1000 and clf.meta.calibration == d
