"""The classifier as a reward: log acceptance shape, floor, kinds, what the classifier sees, validation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from nines.distill.reward import AcceptanceReward, Reward, RewardConfig


class FakeClassifier:
    """Returns the score given for each completion text and records every call."""

    def __init__(self, scores: dict[str, float], threshold: float | None = 0.5) -> None:
        self.scores = scores
        self.threshold: Any = threshold  # None and out-of-range values are tested too
        self.received: list[tuple[list[str], list[str]]] = []

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        self.received.append((list(prompts), list(completions)))
        return np.array([self.scores[c] for c in completions])


def reward_of(scores: Sequence[float], threshold: float = 0.5, **cfg: float | str) -> np.ndarray:
    """Rewards of completions whose classifier scores are ``scores``."""
    texts = [f"text {i}" for i in range(len(scores))]
    clf = FakeClassifier(dict(zip(texts, scores)), threshold)
    reward = AcceptanceReward(clf, RewardConfig(**cfg))  # type: ignore[arg-type]
    return np.array(reward(["prompt"] * len(texts), texts))


def test_log_accept_is_zero_far_below_threshold_and_log_half_at_it() -> None:
    r = reward_of([1e-6, 1e-3, 0.5, 0.3], threshold=0.3)
    assert r[0] == pytest.approx(0.0, abs=1e-9)
    assert -1e-3 < r[1] < 0
    assert r[3] == pytest.approx(math.log(0.5), abs=1e-12)
    assert r[2] < math.log(0.5)


def test_log_accept_decreases_with_the_score_down_to_the_floor() -> None:
    scores = np.linspace(0.01, 0.99, 50)
    r = reward_of(list(scores), threshold=0.1, floor=-3.0)
    assert np.all(np.diff(r) <= 0)
    above_floor = r > -3.0
    assert np.all(np.diff(r[above_floor]) < 0)  # strictly where the floor does not bite
    assert r.min() == -3.0 and np.sum(r == -3.0) > 5
    assert reward_of([1 - 1e-9], floor=-10.0)[0] == -10.0


def test_tau_sharpens_the_acceptance() -> None:
    soft = reward_of([0.4, 0.6], threshold=0.5, kind="accept", tau=2.0)
    hard = reward_of([0.4, 0.6], threshold=0.5, kind="accept", tau=0.05)
    assert 0.5 < soft[0] < hard[0] and hard[0] > 0.99
    assert hard[1] < soft[1] < 0.5 and hard[1] < 0.01


def test_accept_and_neg_score_kinds() -> None:
    scores = [0.01, 0.2, 0.5, 0.9]
    accept = reward_of(scores, kind="accept")
    log_accept = reward_of(scores, kind="log_accept")
    assert np.all((accept > 0) & (accept < 1)) and accept[2] == pytest.approx(0.5)
    np.testing.assert_allclose(np.log(accept), log_accept, rtol=1e-10)
    np.testing.assert_allclose(reward_of(scores, kind="neg_score"), [-0.01, -0.2, -0.5, -0.9])


def test_best_possible() -> None:
    clf = FakeClassifier({})
    assert AcceptanceReward(clf, RewardConfig(kind="accept")).best_possible() == 1.0
    assert AcceptanceReward(clf, RewardConfig(kind="log_accept")).best_possible() == 0.0
    assert AcceptanceReward(clf, RewardConfig(kind="neg_score")).best_possible() == 0.0


def test_leading_space_is_stripped_and_calls_counted() -> None:
    clf = FakeClassifier({"Mara ran.": 0.01, "Mara fell.": 0.99})
    reward = AcceptanceReward(clf)
    out = reward(["p1", "p2"], [" Mara ran.", "Mara fell."], completion_ids=[[1], [2]])  # TRL-style kwargs
    assert clf.received == [(["p1", "p2"], ["Mara ran.", "Mara fell."])]
    assert out[0] > out[1] and all(isinstance(x, float) for x in out)
    assert reward.calls == 2
    reward(["p3"], ["  Mara ran."])
    assert reward.calls == 3 and clf.received[-1][1] == ["Mara ran."]
    with pytest.raises(ValueError, match="2 prompts but 1 completions"):
        reward(["a", "b"], ["Mara ran."])


def test_config_threshold_overrides_the_classifier() -> None:
    clf = FakeClassifier({"x": 0.2}, threshold=0.5)
    reward = AcceptanceReward(clf, RewardConfig(threshold=0.2))
    assert reward.threshold == 0.2
    assert reward(["p"], ["x"])[0] == pytest.approx(math.log(0.5))


@pytest.mark.parametrize("threshold", [None, 0.0, 1.0])
def test_classifier_without_a_usable_threshold_raises(threshold: float | None) -> None:
    with pytest.raises(ValueError, match="calibrate the classifier or set reward.threshold"):
        AcceptanceReward(FakeClassifier({}, threshold=threshold))


def test_classifier_with_no_threshold_attribute_raises() -> None:
    class Bare:
        def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
            return np.zeros(len(completions))

    with pytest.raises(ValueError, match="threshold"):
        AcceptanceReward(Bare())  # type: ignore[arg-type]
    assert AcceptanceReward(Bare(), RewardConfig(threshold=0.3)).threshold == 0.3  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "hinge"}, "reward.kind must be log_accept, accept or neg_score"),
    ({"tau": 0.0}, "reward.tau must be > 0"),
    ({"tau": -1.0}, "reward.tau must be > 0"),
    ({"floor": 0.0}, "reward.floor must be < 0"),
    ({"threshold": 1.0}, r"reward.threshold must be in \(0, 1\)"),
    ({"threshold": 0.0}, r"reward.threshold must be in \(0, 1\)"),
])
def test_reward_config_rejects_bad_values(kwargs: dict[str, float | str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RewardConfig(**kwargs)  # type: ignore[arg-type]


def test_reward_protocol() -> None:
    reward = AcceptanceReward(FakeClassifier({}))
    assert isinstance(reward, Reward)
    assert reward.__name__ == "acceptance_reward"  # TRL names the logged reward column after it
    assert not isinstance(object(), Reward)
