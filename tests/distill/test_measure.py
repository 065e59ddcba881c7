"""Measuring a policy on StoryWorld: oracle labels of free text, completion tables, the policy's figures."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from nines.distill.kl import KLEstimate
from nines.distill.measure import (
    INVALID_QUALITY,
    PolicyEvalConfig,
    Sampled,
    figures,
    label_many,
    label_texts,
    storyworld_rater,
)
from nines.distill.reward import AcceptanceReward
from nines.generate import Prompt
from nines.oracle import TableOracle
from nines.storyworld import StoryWorld
from nines.storyworld.batch import StoryBatch

GIBBERISH = "Purple the the monkey dishwasher,,"


class TextClassifier:
    """Scores 0.9 for the texts in ``flag`` and 0.1 otherwise (threshold 0.5)."""

    threshold = 0.5

    def __init__(self, flag: Sequence[str] = (GIBBERISH,)) -> None:
        self.flag = set(flag)

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([0.9 if c in self.flag else 0.1 for c in completions])


@pytest.fixture(scope="module")
def pairs(world: StoryWorld) -> StoryBatch:
    """10 injurious and 30 safe StoryWorld pairs (some incoherent), in a shuffled order."""
    batch = world.sample(3000, seed=41)
    inj = np.flatnonzero(batch.injurious)[:10]
    safe = np.flatnonzero(~batch.injurious & batch.coherent)[:24]
    incoherent = np.flatnonzero(~batch.injurious & ~batch.coherent)[:6]
    assert len(inj) == 10 and len(incoherent) == 6
    idx = np.random.default_rng(0).permutation(np.concatenate([inj, safe, incoherent]))
    return batch.take(idx)


def test_real_completions_get_the_batch_labels_and_quality(world: StoryWorld, pairs: StoryBatch) -> None:
    lab = label_texts(world.oracle(), pairs.prompt_objects(), pairs.completions, rater=storyworld_rater(world))
    assert lab.injurious == [bool(y) for y in pairs.injurious]
    np.testing.assert_allclose(lab.quality, pairs.quality, rtol=1e-12)
    assert lab.n_invalid == 0 and lab.n_failures == 10
    assert lab.quality.min() < 0.6 < 0.9 < lab.quality.max()  # incoherent ones rate lower


def test_label_many_handles_invalid_text_refusals_and_short_columns(world: StoryWorld, pairs: StoryBatch) -> None:
    prompts, real = pairs.prompt_objects(), list(pairs.completions)
    mixed: list[str | None] = [GIBBERISH, None, real[2], real[3] + " And then?", *real[4:]]
    out = label_many(world.oracle(), prompts, {"real": real, "mixed": mixed, "short": real[:3]},
                     rater=storyworld_rater(world))
    assert set(out) == {"real", "mixed", "short"}
    m = out["mixed"]
    assert m.injurious[:2] == [None, None] and m.quality[0] == m.quality[1] == INVALID_QUALITY
    assert m.injurious[2] == bool(pairs.injurious[2]) and m.quality[2] == pytest.approx(pairs.quality[2])
    assert m.injurious[3] is None and m.quality[3] == INVALID_QUALITY  # a valid text plus more is not valid
    assert m.injurious[4:] == out["real"].injurious[4:]
    assert m.n_invalid == 3  # the refusal counts as no label, like an invalid text
    assert len(out["short"].injurious) == 3 and out["short"].injurious == out["real"].injurious[:3]


def test_unknown_prompts_have_no_labels(world: StoryWorld, pairs: StoryBatch) -> None:
    stranger = Prompt.from_text("A prompt no world wrote.")
    lab = label_texts(world.oracle(), [stranger], [pairs.completions[0]], rater=storyworld_rater(world))
    assert lab.injurious == [None] and lab.quality[0] == INVALID_QUALITY
    assert world.completion_facts(stranger) is None


def test_any_oracle_labels_and_no_rater_rates_nothing(world: StoryWorld, pairs: StoryBatch) -> None:
    """The labels come from the oracle given: here a table that knows two pairs and disagrees on one."""
    prompts, real = pairs.prompt_objects(), list(pairs.completions)
    table = TableOracle({(prompts[0].id, real[0]): not bool(pairs.injurious[0]),
                         (prompts[1].id, real[1]): bool(pairs.injurious[1])})
    lab = label_texts(table, prompts[:3], real[:3])
    assert lab.injurious == [not bool(pairs.injurious[0]), bool(pairs.injurious[1]), None]
    assert (lab.quality == INVALID_QUALITY).all()


def test_completion_facts_are_a_distribution_that_agrees_with_the_oracle(world: StoryWorld,
                                                                          pairs: StoryBatch) -> None:
    for i in range(3):
        prompt, text = pairs.prompt_objects()[i], pairs.completions[i]
        table = world.completion_facts(prompt)
        assert table is not None and len(table) > 100 and text in table
        facts = {t: table[t] for t in table}
        assert math.fsum(f.probability for f in facts.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(f.probability > 0 for f in facts.values())
        p_inj = math.fsum(f.probability for f in facts.values() if f.injurious)
        assert p_inj == pytest.approx(world.injury_probability(prompt), abs=1e-9)
        # the sampled path is one way (maybe of several) to write the text
        assert table[text].probability >= math.exp(pairs.logprob[i]) * (1 - 1e-9)
        assert table[text].injurious == bool(pairs.injurious[i])
        for t in list(facts)[:: max(1, len(facts) // 200)]:
            assert world.label(prompt, t) == facts[t].injurious
        assert world.label(prompt, GIBBERISH) is None and GIBBERISH not in table
        with pytest.raises(KeyError):
            table[GIBBERISH]


def sampled(prompts: list[Prompt], texts: list[str | None], attempts: Sequence[float] | np.ndarray | None = None,
            classifier_calls: int = 0) -> Sampled:
    """A hand-built :class:`Sampled`."""
    att = np.ones(len(prompts)) if attempts is None else np.asarray(attempts, dtype=float)
    return Sampled(prompts, texts, att, classifier_calls, 0.5)


@pytest.fixture(scope="module")
def reference(world: StoryWorld, pairs: StoryBatch) -> list[str]:
    """Independent unfiltered StoryWorld completions of the same prompts."""
    rows = world.generator().generate(pairs.prompt_objects(), n=1, seed=7)
    return [r[0].text for r in rows]


CFG = PolicyEvalConfig(n_prompts=40, winrate_prompts=40, kl_prompts=10)


def test_gibberish_loses_the_win_rate_and_is_a_worst_case_failure(world: StoryWorld, pairs: StoryBatch,
                                                                   reference: list[str]) -> None:
    prompts = pairs.prompt_objects()
    labels = label_many(world.oracle(), prompts, {"gib": [GIBBERISH] * 40, "real": list(pairs.completions),
                                                  "ref": reference}, rater=storyworld_rater(world))
    clf = TextClassifier()
    kl = KLEstimate(3.0, 0.2, 40)
    gib = figures("gibberish", sampled(prompts, [GIBBERISH] * 40), labels["gib"], clf, labels["ref"], CFG, kl,
                  "test", reward=AcceptanceReward(clf))
    real = figures("copy", sampled(prompts, list(pairs.completions)), labels["real"], clf, labels["ref"], CFG, kl,
                   "test", reward=AcceptanceReward(clf))
    # reward hacking by gibberish shows up as a lost win rate and as worst-case failures
    assert gib.winrate["estimate"] < 0.2 and gib.winrate["upper"] < 0.5
    assert 0.2 < real.winrate["estimate"] < 0.8
    assert gib.winrate["n_prompts"] == real.winrate["n_prompts"] == 40
    assert gib.invalid == 40 and gib.quality == INVALID_QUALITY
    assert gib.failure.n == 0 and math.isnan(gib.failure.estimate)
    assert (gib.failure_worst_case.k, gib.failure_worst_case.n) == (40, 40)
    assert (real.failure.k, real.failure.n) == (10, 40) and real.failure_worst_case.k == 10
    assert real.invalid == 0 and real.quality == pytest.approx(float(np.mean(pairs.quality)))
    assert gib.classifier_flagged.k == 40 and real.classifier_flagged.k == 0
    assert gib.mean_reward is not None and real.mean_reward is not None and gib.mean_reward < real.mean_reward
    assert (gib.kl, gib.kl_stderr, gib.kl_method) == (3.0, 0.2, "test")
    d = gib.to_dict()
    assert d["failure_worst_case"]["k"] == 40 and "nines" in d["failure"] and d["name"] == "gibberish"


def test_refusals_are_counted_and_dropped_and_calls_are_per_returned_completion(
        world: StoryWorld, pairs: StoryBatch, reference: list[str]) -> None:
    prompts, real = pairs.prompt_objects(), list(pairs.completions)
    texts: list[str | None] = list(real)
    refused = [i for i in range(40) if pairs.injurious[i]][:4] + [39]
    for i in refused:
        texts[i] = None
    attempts = np.where([t is None for t in texts], 16, 2).astype(float)
    labels = label_many(world.oracle(), prompts, {"f": texts, "ref": reference}, rater=storyworld_rater(world))
    row = figures("filtered", sampled(prompts, texts, attempts, classifier_calls=int(attempts.sum())), labels["f"],
                  TextClassifier(), labels["ref"], CFG, KLEstimate(0.1, 0.01, 40), "test")
    assert row.refused == 5 and row.n == 35 and row.invalid == 0
    assert row.failure.k == 10 - 4 and row.failure.n == 35
    assert row.generator_calls == pytest.approx((35 * 2 + 5 * 16) / 35)
    assert row.classifier_calls == pytest.approx(row.generator_calls)
    assert row.winrate["n_refused"] == 5 and row.winrate["n_prompts"] == 35
    assert row.mean_reward is None and row.seconds == 0.5
