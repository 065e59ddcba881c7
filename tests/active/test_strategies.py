"""Contracts of the selection strategies."""

from __future__ import annotations

import numpy as np
import pytest

from nines.active.strategies import STRATEGIES, select


@pytest.fixture
def scores() -> np.ndarray:
    return np.array([0.05, 0.9, 0.48, 0.30, 0.62, 0.41, 0.10, 0.55, 0.39, 0.99])


def test_redwood_picks_only_accepted_items_closest_to_threshold_first(scores: np.ndarray) -> None:
    got = select("redwood", scores, 4, threshold=0.45)
    assert (scores[got] <= 0.45).all()
    assert got.tolist() == [5, 8, 3, 6]  # 0.41, 0.39, 0.30, 0.10


def test_redwood_includes_items_exactly_at_threshold(scores: np.ndarray) -> None:
    assert select("redwood", scores, 1, threshold=0.48).tolist() == [2]


def test_redwood_needs_threshold(scores: np.ndarray) -> None:
    with pytest.raises(ValueError, match="threshold"):
        select("redwood", scores, 3)


def test_redwood_returns_all_accepted_when_fewer_than_k(scores: np.ndarray) -> None:
    got = select("redwood", scores, 5, threshold=0.2)
    assert got.tolist() == [6, 0]
    with pytest.raises(ValueError, match="only 2 eligible"):
        select("redwood", scores, 5, threshold=0.2, strict=True)


def test_uncertainty_picks_nearest_half(scores: np.ndarray) -> None:
    assert select("uncertainty", scores, 3).tolist() == [2, 7, 5]  # 0.48, 0.55, 0.41


def test_disagreement_picks_highest_variance() -> None:
    scores = np.full(5, 0.3)
    ens = np.array([[0.1, 0.5, 0.3, 0.0, 0.3], [0.1, 0.1, 0.3, 1.0, 0.35], [0.1, 0.3, 0.3, 0.5, 0.25]])
    assert select("disagreement", scores, 2, ensemble_scores=ens).tolist() == [3, 1]
    # restricted to accepted items, item 3 (score above threshold) is out
    scores[3] = 0.9
    assert select("disagreement", scores, 2, ensemble_scores=ens, threshold=0.5).tolist() == [1, 4]


def test_disagreement_validates_ensemble_shape(scores: np.ndarray) -> None:
    with pytest.raises(ValueError, match="ensemble_scores"):
        select("disagreement", scores, 2)
    with pytest.raises(ValueError, match="shape"):
        select("disagreement", scores, 2, ensemble_scores=np.zeros((3, 4)))


def test_random_is_deterministic_by_seed() -> None:
    s = np.linspace(0, 1, 1000)
    a, b = select("random", s, 50, seed=7), select("random", s, 50, seed=7)
    assert a.tolist() == b.tolist()
    assert a.tolist() != select("random", s, 50, seed=8).tolist()
    assert len(set(a.tolist())) == 50


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_never_reselects_labelled(strategy: str) -> None:
    rng = np.random.default_rng(0)
    s = rng.random(200)
    ens = rng.random((4, 200))
    labelled = np.arange(0, 200, 2)
    got = select(strategy, s, 30, threshold=0.7, ensemble_scores=ens, already_labelled=labelled, seed=3)
    assert not np.isin(got, labelled).any()
    assert len(got) == len(set(got.tolist())) == 30
    # labelling everything leaves nothing to pick
    assert len(select(strategy, s, 5, threshold=0.7, ensemble_scores=ens, already_labelled=range(200))) == 0


def test_ties_broken_by_seed_not_index() -> None:
    s = np.full(100, 0.5)
    firsts = {int(select("uncertainty", s, 1, seed=i)[0]) for i in range(20)}
    assert len(firsts) > 5


def test_bad_arguments() -> None:
    s = np.array([0.1, 0.2])
    with pytest.raises(ValueError, match="unknown strategy"):
        select("greedy", s, 1)
    with pytest.raises(ValueError, match="non-negative"):
        select("random", s, -1)
    with pytest.raises(ValueError, match="outside the pool"):
        select("random", s, 1, already_labelled=[5])
    with pytest.raises(ValueError, match="one-dimensional"):
        select("random", np.zeros((2, 2)), 1)
