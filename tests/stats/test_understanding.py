"""Does the generator understand its failures? StoryWorld aftermath simulation."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from nines.evaluate.understanding import classifier_judge, oracle_judge, understanding_rate
from nines.generate import Prompt
from nines.stats.understanding import UnderstandingResult, split_egregious, understanding_results
from nines.storyworld import StoryWorld
from nines.storyworld.aftermath import AftermathGenerator


def failures_by_family(world: StoryWorld, n: int = 60_000) -> dict[str, list[tuple[Prompt, str]]]:
    b = world.sample(n, seed=4)
    prompts = b.prompt_objects()
    out: dict[str, list[tuple[Prompt, str]]] = {}
    for i in np.flatnonzero(b.injurious):
        fam = b.family_table[b.family[i]]
        out.setdefault(fam.split(".")[0], []).append((prompts[i], b.completions[i]))
    return out


def texts(pairs: Sequence[tuple[Prompt, str]]) -> list[tuple[str, str]]:
    """The (prompt text, completion) pairs understanding_rate builds its contexts from."""
    return [(p.text, c) for p, c in pairs]


def test_explicit_failures_are_understood_subtle_ones_less() -> None:
    world = StoryWorld(seed=0)
    fams = failures_by_family(world)
    explicit, indirect = fams["explicit"][:15], fams["indirect"][:15]
    gen = AftermathGenerator(world, pairs=explicit + indirect)
    res = understanding_rate(gen, oracle_judge(), texts(explicit + indirect), n_continuations=16, seed=1)
    assert all(isinstance(r, UnderstandingResult) and r.n == 16 for r in res)
    exp_rate = np.mean([r.rate for r in res[:15]])
    ind_rate = np.mean([r.rate for r in res[15:]])
    assert exp_rate > 0.85 and ind_rate < 0.5
    assert all(r.lower <= r.rate <= r.upper for r in res)
    egregious, subtle = split_egregious(res, threshold=0.6)
    assert sum(r in egregious for r in res[:15]) >= 14
    assert sum(r in subtle for r in res[15:]) >= 10
    # the threshold moves the split: at 0 everything is egregious, at 1 only unanimous ones
    assert len(split_egregious(res, 0.0)[0]) == len(res)
    assert len(split_egregious(res, 1.0)[0]) < len(egregious)


def test_understanding_parameter_and_safe_completions() -> None:
    world = StoryWorld(seed=0)
    b = world.sample(3000, seed=2)
    prompts = b.prompt_objects()
    safe = [(prompts[i], b.completions[i]) for i in np.flatnonzero(~b.injurious)[:20]]
    inj = [(prompts[i], b.completions[i]) for i in np.flatnonzero(b.injurious)[:10]]
    never = AftermathGenerator(world, understanding=lambda fam: 0.0, false_alarm=0.0, pairs=inj + safe)
    assert all(r.rate == 0 for r in understanding_rate(never, oracle_judge(), texts(inj + safe), 4))
    always = AftermathGenerator(world, understanding={"": 1.0}, default_understanding=1.0, false_alarm=0.0,
                                pairs=inj + safe)
    res = understanding_rate(always, oracle_judge(), texts(inj + safe), 4)
    assert [r.rate for r in res] == [1.0] * 10 + [0.0] * 20
    assert AftermathGenerator(world).understanding_of("indirect.euphemism") == 0.2
    assert AftermathGenerator(world).understanding_of("explicit.blunt") == 0.95


class KeywordClassifier:
    """Scores a continuation 0.9 if it mentions blood, a wound, a healer or a body, else 0.1."""

    threshold = 0.5

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        pattern = re.compile(r"\b(blood|wound|healer|body|dead|injury|death|mourned)\b", re.I)
        return np.array([0.9 if pattern.search(c) else 0.1 for c in completions])


def test_classifier_judge_agrees_with_oracle_on_aftermath_sentences() -> None:
    world = StoryWorld(seed=0)
    fams = failures_by_family(world, 20_000)
    fail = fams["explicit"][:5] + fams["indirect"][:5]
    gen = AftermathGenerator(world, pairs=fail)
    a = understanding_rate(gen, oracle_judge(), texts(fail), 8, seed=3)
    b = understanding_rate(gen, classifier_judge(KeywordClassifier()), texts(fail), 8, seed=3)
    assert [r.injury_count for r in a] == [r.injury_count for r in b]
    # a stricter threshold than every score finds no injuries
    c = understanding_rate(gen, classifier_judge(KeywordClassifier(), 0.95), texts(fail), 8, 3)
    assert all(r.injury_count == 0 for r in c)


def test_bad_inputs() -> None:
    world = StoryWorld(seed=0)
    gen = AftermathGenerator(world)
    with pytest.raises(ValueError, match="n_continuations"):
        understanding_rate(gen, oracle_judge(), [("a", "b")], n_continuations=0)
    with pytest.raises(ValueError, match="tuple or have"):
        understanding_rate(gen, oracle_judge(), ["just text"])
    with pytest.raises(ValueError, match="made by"):
        understanding_rate(gen, oracle_judge(), [("not a storyworld prompt", "x")])
    with pytest.raises(ValueError, match="threshold"):
        split_egregious([], threshold=2)
    with pytest.raises(ValueError, match="probability"):
        AftermathGenerator(world, false_alarm=1.5)


def test_understanding_results_is_the_rate_with_a_wilson_interval() -> None:
    pairs = [("p0", "c0"), ("p1", "c1")]
    res = understanding_results(pairs, [[True, True, False, True], [False] * 4], [["a", "b", "c", "d"]] * 2)
    assert [r.injury_count for r in res] == [3, 0] and [r.rate for r in res] == [0.75, 0.0]
    assert res[0].lower < 0.75 < res[0].upper and res[1].lower == 0.0 < res[1].upper
    assert res[0].continuations == ("a", "b", "c", "d") and (res[1].prompt, res[1].completion) == ("p1", "c1")
    with pytest.raises(ValueError, match="shape"):
        understanding_results(pairs, [[True, False]])
    with pytest.raises(ValueError, match="continuations must hold"):
        understanding_results(pairs, [[True], [False]], [["a"], ["b", "c"]])
