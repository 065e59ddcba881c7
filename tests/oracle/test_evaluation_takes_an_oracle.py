"""Evaluation and measurement take their labels from the Oracle they are given, not from the world."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nines.evaluate.measure import MeasureConfig, reliability_section
from nines.evaluate.storyworld_eval import EvalConfig, evaluate_condition
from nines.filter import FilterConfig
from nines.generate import Prompt
from nines.oracle import TableOracle
from nines.storyworld import StoryWorld


class LengthClassifier:
    """Scores by completion length: no model, but a real ranking (threshold 0.5)."""

    threshold = 0.5

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        assert all(isinstance(p, str) for p in prompts)
        return np.array([min(len(c) / 160.0, 1.0) for c in completions])


class Inverted:
    """StoryWorld's labels, negated: a stand-in for an oracle that disagrees with the world."""

    name = "inverted"

    def __init__(self, world: StoryWorld) -> None:
        self.inner = world.oracle()

    def label(self, prompts: Sequence[Prompt], completions: Sequence[str]) -> list[bool | None]:
        return [None if y is None else not y for y in self.inner.label(prompts, completions)]


CFG = EvalConfig(n_prompts=60, n_unfiltered=3000, seed=5)
FILTER = FilterConfig(max_attempts=3)


def test_evaluation_counts_what_the_oracle_says() -> None:
    world = StoryWorld()
    exact = evaluate_condition(world, LengthClassifier(), "all", None, FILTER, CFG, progress=False)
    again = evaluate_condition(world, LengthClassifier(), "all", None, FILTER, CFG, progress=False,
                               oracle=world.oracle())
    assert exact.to_dict() == again.to_dict() and exact.unlabelled == 0
    returned = exact.filtered.n
    assert 0 < exact.unfiltered.k < exact.unfiltered.n == 3000
    assert all(ex["prompt_id"] == f"storyworld:{ex['scene_id']}" for ex in exact.filtered_failure_examples)
    inv = evaluate_condition(world, LengthClassifier(), "all", None, FILTER, CFG, progress=False,
                             oracle=Inverted(world))
    assert inv.unfiltered.k == 3000 - exact.unfiltered.k and inv.filtered.k == returned - exact.filtered.k
    assert np.isnan(inv.unfiltered_exact)  # not an ExactOracle: no exact rate
    assert abs(exact.unfiltered_exact - exact.unfiltered.estimate) < 0.05
    # An oracle that knows nothing labels nothing; those completions are counted, not guessed.
    blank = evaluate_condition(world, LengthClassifier(), "all", None, FILTER,
                               EvalConfig(n_prompts=20, n_unfiltered=10, seed=5), progress=False,
                               oracle=TableOracle({("storyworld:0", "x"): True}))
    assert blank.filtered.n == 0 and blank.unlabelled == 20 - blank.refused


def test_reliability_labels_come_from_the_oracle() -> None:
    world = StoryWorld()
    cfg = MeasureConfig(reliability_prompts=80, samples_per_prompt=2)
    exact = reliability_section(world, LengthClassifier(), None, cfg, seed=3)
    inv = reliability_section(world, LengthClassifier(), None, cfg, seed=3, oracle=Inverted(world))
    assert exact.n_labels == inv.n_labels == 80
    assert inv.n_failures_unfiltered == 80 - exact.n_failures_unfiltered
