"""An exact filtered-policy world for the labels path: StoryWorld's scenario behind the Generator and
Classifier protocols, so the estimates can be checked against the exact filtered failure rate.

A prompt's text names its StoryWorld prompt key; a completion's text names its completion variant.
The generator samples variants with StoryWorld's exact probabilities for the key, the classifier
scores them with the scenario's synthetic score, and labels are StoryWorld's exact oracle labels
(:func:`nines.testing.storyworld_scenario`). The truth is :meth:`FilterScenario.failure_rate`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nines.evaluate.labels_source import LabelledRow
from nines.generate.base import Completion, Prompt, PromptLike, as_prompts, prompt_text
from nines.testing import FilterScenario, storyworld_scenario

THRESHOLD = 0.5


def scenario() -> FilterScenario:
    """F = 0.0072 at t = 0.5, pooled 0.0051: acceptance varies by prompt, so the pooled rate is biased."""
    return storyworld_scenario(noise_sd=3.0, tension_shift=(0.0, 1.0, 2.0))


def _key(text: str) -> int:
    return int(text.split()[1])


class ScenarioGenerator:
    """Samples completion variants ``"variant C"`` of prompts ``"key K prompt I"`` with the exact probabilities."""

    name = "storyworld-scenario"

    def __init__(self, sc: FilterScenario) -> None:
        self.sc = sc
        self.cum = np.cumsum(sc.cell_probs, 1)
        self.cum /= self.cum[:, -1:]

    def cells(self, keys: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        u = rng.random((len(keys), n))
        out = np.empty((len(keys), n), dtype=np.int64)
        for k in np.unique(keys):
            m = keys == k
            out[m] = np.minimum(np.searchsorted(self.cum[k], u[m], side="right"), self.cum.shape[1] - 1)
        return out

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        keys = np.array([_key(prompt_text(p)) for p in prompts])
        cells = self.cells(keys, n, np.random.default_rng(seed))
        return [[Completion(f"variant {c}") for c in row] for row in cells]


class ScenarioClassifier:
    """Scores ``(prompt key, variant)`` with the scenario's synthetic classifier score."""

    def __init__(self, sc: FilterScenario, threshold: float = THRESHOLD) -> None:
        self.sc, self.threshold = sc, threshold

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        k = np.array([_key(p) for p in prompts])
        c = np.array([int(x.split()[1]) for x in completions])
        return self.sc.scores[k, c]


def labelled_rows(sc: FilterScenario, n_prompts: int, seed: int, rows_per_prompt: int = 1) -> list[LabelledRow]:
    """Random unfiltered samples of random prompts, labelled with StoryWorld's exact oracle."""
    rng = np.random.default_rng(seed)
    keys = sc.sample_keys(n_prompts, rng)
    cells = ScenarioGenerator(sc).cells(keys, rows_per_prompt, rng)
    prompts = as_prompts([f"key {k} prompt {seed}-{i}" for i, k in enumerate(keys)])
    return [LabelledRow(p.id, p.text, f"variant {c}", bool(sc.labels[k, c]))
            for p, k, row in zip(prompts, keys, cells) for c in row]


def plan_prompts(n: int, seed: int) -> list[Prompt]:
    """``n`` prompts of keys drawn from the scenario's prompt distribution."""
    sc = scenario()
    keys = sc.sample_keys(n, np.random.default_rng(seed))
    return as_prompts([f"key {k} prompt p{seed}-{i}" for i, k in enumerate(keys)])
