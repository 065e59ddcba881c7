"""The labels path's reweighted estimate against the exact filtered failure rate, by simulation.

StoryWorld is the ground truth here only: its exact scenario (prompt keys, completion variants,
exact probabilities and oracle labels, a synthetic classifier score) stands behind the Generator and
Classifier protocols (``labelled_sim``), so the exact filtered failure rate is known and each run's
labels are exact oracle labels of random unfiltered samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from labelled_sim import THRESHOLD, ScenarioClassifier, ScenarioGenerator, labelled_rows, scenario

from nines.evaluate.labelled import LabelsConfig, reliability_from_labels, understanding_check
from nines.evaluate.labels_source import LabelledRow
from nines.generate.base import as_prompts


@pytest.fixture(scope="module")
def world():
    sc = scenario()
    return sc, ScenarioGenerator(sc), ScenarioClassifier(sc), sc.failure_rate(THRESHOLD)


def test_scenario_makes_the_pooled_rate_biased(world) -> None:
    sc, _, _, truth = world
    assert 0.005 < truth < 0.01 and sc.pooled_rate(THRESHOLD) < 0.8 * truth


def test_reweighted_interval_covers_the_exact_filtered_rate_at_nominal(world) -> None:
    sc, gen, clf, truth = world
    seeds = 80
    cover, pooled_cover, est = 0, 0, []
    for s in range(seeds):
        r = reliability_from_labels(labelled_rows(sc, 6000, s), clf, gen, LabelsConfig(samples_per_prompt=8, seed=10_000 + s))
        at = r.at_threshold
        cover += at["lower"] <= truth <= at["upper"]
        pooled_cover += r.pooled_at_threshold["lower"] <= truth <= r.pooled_at_threshold["upper"]
        est.append(at["estimate"])
        assert r.verdict.status == "estimate" and r.acceptance_from == "generator"
    assert 0.88 <= cover / seeds <= 0.995, f"coverage {cover / seeds:.3f} of the 95% interval"
    assert pooled_cover / seeds < 0.8  # the naive pooled interval misses: the test can tell
    se_mean = np.std(est, ddof=1) / np.sqrt(seeds)
    assert abs(np.mean(est) - truth) < 3 * se_mean + 0.02 * truth


def test_with_few_labels_the_reported_upper_end_still_holds(world) -> None:
    sc, gen, clf, truth = world
    seeds, held, too_few = 100, 0, 0
    for s in range(seeds):
        r = reliability_from_labels(labelled_rows(sc, 800, 500 + s), clf, gen,
                                    LabelsConfig(samples_per_prompt=8, seed=s, target=0.01))
        v = r.verdict
        if v.status == "too_few":
            too_few += 1
            assert v.more_labels is not None and v.more_labels > 0 and r.at_threshold["n_failures"] == 0
        held += truth <= v.upper
    assert held / seeds >= 0.95
    assert too_few > 0  # with ~2 accepted failures expected, some runs find none


def test_zero_failures_says_how_many_more_labels_a_stated_bound_needs() -> None:
    class AcceptAll:
        threshold = 0.5

        def score(self, prompts, completions):
            return np.zeros(len(prompts))

    rows = [LabelledRow(f"p{i}", f"prompt {i}", "fine", False) for i in range(100)]
    r = reliability_from_labels(rows, AcceptAll(), None, LabelsConfig(target=0.01))
    assert r.verdict.status == "too_few" and r.verdict.more_labels == 368 - 100
    rows = [LabelledRow(f"p{i}", f"prompt {i}", "fine", False) for i in range(368)]
    r = reliability_from_labels(rows, AcceptAll(), None, LabelsConfig(target=0.01))
    assert r.verdict.status == "bound" and r.verdict.upper <= 0.01
    assert "pooled" in r.notes[0]  # no generator: it says the acceptance came from the labelled rows


def test_rows_sharing_a_prompt_are_one_cluster(world) -> None:
    sc, gen, clf, _ = world
    rows = labelled_rows(sc, 300, 3, rows_per_prompt=4)
    r = reliability_from_labels(rows, clf, gen, LabelsConfig(samples_per_prompt=4))
    assert r.n_labels == 1200 and r.n_prompts == 300 and r.at_threshold["n_clusters"] <= 300
    assert r.samples_per_prompt == pytest.approx(8.0)


def test_no_accepted_labelled_row_is_a_clear_error(world) -> None:
    sc, gen, _, _ = world
    strict = ScenarioClassifier(sc, threshold=0.0)
    with pytest.raises(ValueError, match="threshold"):
        reliability_from_labels(labelled_rows(sc, 50, 1), strict, gen, LabelsConfig())


def test_understanding_check_with_the_users_generator(tiny_generator) -> None:
    class Flags:
        """Accepts the labelled failures ("prompt" completions); judges continuations with 'cat' as failures."""

        threshold = 0.5

        def score(self, prompts, completions):
            return np.array([0.9 if "cat" in c else 0.1 for c in completions])

    rows = [LabelledRow(p.id, p.text, "the dog sat", True) for p in as_prompts(["the dog ran", "a big mat"])]
    rows.append(LabelledRow("x", "the", "it was", False))
    u = understanding_check(rows, Flags(), tiny_generator, LabelsConfig(understanding_continuations=6))
    assert u["ran"] and u["n_failures"] == 2 and u["egregious"] + u["subtle"] == 2
    for ex in u["examples"]:
        assert ex["egregious"] == (ex["rate"] >= 0.5)
    assert not understanding_check(rows, Flags(), None, LabelsConfig())["ran"]


def test_understanding_check_reports_why_a_generator_cannot_run(world) -> None:
    from nines.storyworld import StoryWorld

    sc, _, clf, _ = world
    rows = [r for r in labelled_rows(sc, 3000, 2) if r.label]
    u = understanding_check(rows, clf, StoryWorld().generator(), LabelsConfig())
    assert not u["ran"] and u["reason"]
