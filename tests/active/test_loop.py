"""The active-learning loop end to end on StoryWorld, and the mechanism behind the benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from nines.active import ActiveLearningLoop, select
from nines.classify.metrics import recall_at, threshold_at_rejection
from nines.storyworld import StoryWorld

hashing = pytest.importorskip("nines.active.hashing")


@pytest.fixture(scope="module")
def world_data() -> dict[str, np.ndarray]:
    world = StoryWorld()
    pool = world.sample(8_000, seed=5)
    test = world.sample(5_000, seed=6)
    return {
        "X": hashing.featurize(pool.prompts, pool.completions),
        "y": np.asarray(pool.injurious, dtype=bool),
        "Xt": hashing.featurize(test.prompts, test.completions),
        "yt": np.asarray(test.injurious, dtype=bool),
    }


def _loop(d: dict[str, np.ndarray], strategy: str, calls: list[int]) -> ActiveLearningLoop:
    def label(idx: np.ndarray) -> np.ndarray:
        calls.append(len(idx))
        return d["y"][idx]

    def evaluate(model: object) -> dict[str, float]:
        s = hashing.score(model, d["Xt"])
        return {"recall": recall_at(s[d["yt"]], threshold_at_rejection(s, 0.05))}

    return ActiveLearningLoop(
        d["X"], hashing.fit, hashing.score, strategy, k=50, label=label, evaluate=evaluate, ensemble=2, seed=1
    )


@pytest.mark.parametrize("strategy", ["redwood", "disagreement", "random"])
def test_three_rounds_label_expected_count_and_record_recall(world_data, strategy: str) -> None:
    calls: list[int] = []
    loop = _loop(world_data, strategy, calls)
    initial = np.random.default_rng(0).choice(len(world_data["y"]), 200, replace=False)
    hist = loop.run(initial, rounds=3)
    assert [r.round for r in hist] == [0, 1, 2, 3]
    assert [r.n_labelled for r in hist] == [200, 250, 300, 350]
    assert calls == [200, 50, 50, 50]
    assert len(loop.labelled) == len(set(loop.labelled.tolist())) == 350
    assert all(0.0 <= r.metrics["recall"] <= 1.0 for r in hist)
    assert hist[-1].n_positive == int(world_data["y"][loop.labelled].sum())
    if strategy == "redwood":  # each round's picks were accepted under the model that chose them
        for prev, r in zip(hist, hist[1:]):
            assert len(r.new_indices) == 50
            assert prev.threshold == prev.threshold  # not NaN


def test_max_labels_cuts_the_last_round(world_data) -> None:
    loop = _loop(world_data, "random", [])
    hist = loop.run(np.arange(200), max_labels=320)
    assert [r.n_labelled for r in hist] == [200, 250, 300, 320]


def test_human_queue_api(world_data) -> None:
    loop = _loop(world_data, "redwood", [])
    loop.add_labels(np.arange(100), world_data["y"][:100])
    loop.refit()
    queue = loop.propose(10)
    assert len(queue) == 10 and not np.isin(queue, np.arange(100)).any()
    assert loop.pool_scores is not None
    assert (loop.pool_scores[queue] <= loop.threshold).all()
    with pytest.raises(ValueError, match="not labelled already"):
        loop.add_labels(np.array([0]), np.array([True]))


def test_loop_rejects_bad_configuration(world_data) -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        ActiveLearningLoop(world_data["X"], hashing.fit, hashing.score, "nope", k=5)
    with pytest.raises(ValueError, match="no model yet"):
        ActiveLearningLoop(world_data["X"], hashing.fit, hashing.score, "random", k=5).propose()


def test_redwood_finds_more_injurious_per_label_than_random(world_data) -> None:
    """A weak classifier (200 random labels): just-accepted items hold far more misses than random ones."""
    X, y = world_data["X"], world_data["y"]
    found = {"redwood": 0, "random": 0}
    for seed in range(3):
        start = np.random.default_rng(seed).choice(len(y), 200, replace=False)
        model = hashing.fit(X[start], y[start])
        s = hashing.score(model, X)
        t = threshold_at_rejection(s, 0.05)
        for strategy in found:
            picked = select(strategy, s, 200, threshold=t, already_labelled=start, seed=seed)
            found[strategy] += int(y[picked].sum())
    # per label: redwood finds accepted failures (the filter's misses); random finds ~base rate x accepted
    assert found["redwood"] > 3 * max(found["random"], 1), found
