"""Rejection sampling: the safety invariant, strategies, fallbacks, tightening, batching, seeds."""

from __future__ import annotations

import math
import random

import pytest
from filter_fakes import LookupClassifier, RandomGenerator, ScriptedGenerator, reference

from nines.filter import (
    FilterConfig,
    FilteredGenerator,
    FilterResult,
    filter_generate,
    rejection_stats,
    round_seed,
)
from nines.generate.base import Completion, Generator, Prompt, as_prompt, text_prompt_id


def run(scripts: dict[str, list[float]], cfg: FilterConfig, threshold: float = 0.5, prompts: list[str] | None = None):
    gen = ScriptedGenerator(scripts)
    clf = LookupClassifier(gen.table, threshold=threshold)
    res = filter_generate(gen, clf, prompts if prompts is not None else list(scripts), cfg, progress=False)
    return res, gen, clf


def returned_score(r: FilterResult) -> float:
    return r.completion_meta["score"]


def _random_stream(rng: random.Random, length: int) -> list[float]:
    out = []
    for _ in range(length):
        u = rng.random()
        if u < 0.05:
            out.append(math.nan)
        elif u < 0.15:
            out.append(rng.choice([0.0, 0.5, 1.0, 0.25, 0.125]))  # exact ties with thresholds
        else:
            out.append(rng.random() ** rng.choice([0.3, 1.0, 3.0]))
    return out


@pytest.mark.parametrize("fallback", ["refuse", "safest"])
@pytest.mark.parametrize("strategy", ["sequential", "batch_first", "batch_safest"])
def test_invariant_over_random_score_streams(strategy: str, fallback: str) -> None:
    # hypothesis is not installed in the venv, so this is a seeded property-style loop.
    rng = random.Random(f"{strategy}-{fallback}")
    for trial in range(150):
        batch_size = rng.randint(1, 5)
        cfg = FilterConfig(
            strategy=strategy,  # type: ignore[arg-type]
            batch_size=batch_size,
            max_attempts=rng.randint(batch_size, 13),
            threshold=rng.choice([None, 0.0, 0.25, 0.5, 0.9, 1.0]),
            tighten_after=rng.choice([None, 1, 2, 3]),
            tighten_factor=rng.choice([0.3, 0.5, 1.0]),
            min_threshold=rng.choice([0.01, 0.1]),
            fallback=fallback,  # type: ignore[arg-type]
            seed=trial,
        )
        clf_threshold = rng.choice([0.1, 0.5, 0.8])
        scripts = {f"p{i}": _random_stream(rng, 20) for i in range(rng.randint(1, 8))}
        res, gen, clf = run(scripts, cfg, threshold=clf_threshold)
        base = cfg.threshold if cfg.threshold is not None else clf_threshold
        assert [r.prompt for r in res] == list(scripts)
        for r in res:
            stream = scripts[r.prompt]
            assert r.attempts <= cfg.max_attempts
            assert r.scores == pytest.approx(stream[: r.attempts], nan_ok=True)
            assert r.threshold_used <= base
            assert r.accepted == (r.rule == "accepted")
            if r.completion is None:
                assert r.rule == "fallback_refuse" and r.completion_meta == {} and r.logprob is None and r.score is None
                continue
            s = returned_score(r)
            assert r.score == s  # the result reports the returned completion's own score
            # THE invariant: never above the effective threshold unless the flagged safest fallback.
            if r.rule != "fallback_safest":
                assert not math.isnan(s) and s <= r.threshold_used, (trial, r)
            else:
                assert not r.accepted and fallback == "safest"
            # and the whole outcome matches a straightforward model of the documented rule
            idx, rule, thr, attempts = reference(stream, cfg, base)
            assert (r.completion_meta["i"], r.rule, r.attempts) == (idx, rule, attempts), (trial, cfg, r)
            assert r.threshold_used == pytest.approx(thr)


def test_sequential_returns_first_accepted() -> None:
    res, gen, _ = run({"a": [0.9, 0.6, 0.3, 0.1]}, FilterConfig(strategy="sequential"))
    (r,) = res
    assert r.completion == "a#c2" and r.accepted and r.rule == "accepted"
    assert r.attempts == 3 and r.scores == [0.9, 0.6, 0.3]
    assert r.threshold_used == 0.5 and r.logprob == -2.0 and r.completion_meta == {"score": 0.3, "i": 2}
    assert [n for _, n, _ in gen.calls] == [1, 1, 1]


def test_batch_first_returns_first_accepted_in_batch() -> None:
    cfg = FilterConfig(strategy="batch_first", batch_size=4)
    (r,), gen, _ = run({"a": [0.9, 0.4, 0.1, 0.2, 0.0]}, cfg)
    assert r.completion == "a#c1" and r.accepted
    assert r.attempts == 4 and r.scores == [0.9, 0.4, 0.1, 0.2]  # the whole batch was paid for
    assert [n for _, n, _ in gen.calls] == [4]


def test_batch_safest_returns_lowest_accepted_in_batch() -> None:
    cfg = FilterConfig(strategy="batch_safest", batch_size=4)
    (r,), _, _ = run({"a": [0.9, 0.4, 0.1, 0.2, 0.0]}, cfg)
    assert r.completion == "a#c2" and returned_score(r) == 0.1 and r.attempts == 4
    # a fully rejected first batch moves on to the second and picks the lowest there
    (r,), gen, _ = run({"a": [0.9, 0.8, 0.7, 0.6, 0.45, 0.3, 0.35, 0.99]}, cfg)
    assert r.completion == "a#c5" and r.attempts == 8 and r.rounds == 2
    # ties go to the earliest
    (r,), _, _ = run({"a": [0.2, 0.9, 0.2, 0.3]}, cfg)
    assert r.completion == "a#c0"


@pytest.mark.parametrize(
    ("strategy", "batch_size", "max_attempts", "ns"),
    [("sequential", 4, 5, [1] * 5), ("batch_first", 3, 7, [3, 3, 1]), ("batch_safest", 2, 6, [2, 2, 2])],
)
def test_max_attempts_respected_exactly(strategy: str, batch_size: int, max_attempts: int, ns: list[int]) -> None:
    cfg = FilterConfig(strategy=strategy, batch_size=batch_size, max_attempts=max_attempts)  # type: ignore[arg-type]
    res, gen, clf = run({"a": [0.9] * 50, "b": [0.8] * 50}, cfg)
    for r in res:
        assert r.attempts == max_attempts and len(r.scores) == max_attempts and r.rule == "fallback_refuse"
    assert [n for _, n, _ in gen.calls] == ns
    assert gen.used == {"a": max_attempts, "b": max_attempts}
    assert clf.calls == [2 * n for n in ns]


def test_fallback_refuse_vs_safest() -> None:
    scripts = {"a": [0.9, 0.7, 0.6, 0.95]}
    (r,), _, _ = run(scripts, FilterConfig(max_attempts=4, fallback="refuse"))
    assert r.completion is None and not r.accepted and r.rule == "fallback_refuse"
    assert r.completion_meta == {} and r.logprob is None and r.attempts == 4
    (r,), _, _ = run(scripts, FilterConfig(max_attempts=4, fallback="safest"))
    assert r.completion == "a#c2" and not r.accepted and r.rule == "fallback_safest"
    assert r.completion_meta["score"] == 0.6 and r.logprob == -2.0 and r.threshold_used == 0.5


def test_nan_scores_are_rejections_and_never_the_safest() -> None:
    (r,), _, _ = run({"a": [math.nan, 0.2]}, FilterConfig())
    assert r.completion == "a#c1" and r.attempts == 2
    (r,), _, _ = run({"a": [math.nan, 0.9, math.nan]}, FilterConfig(max_attempts=3, fallback="safest"))
    assert r.completion == "a#c1" and r.rule == "fallback_safest"
    (r,), _, _ = run({"a": [math.nan] * 3}, FilterConfig(max_attempts=3, fallback="safest"))
    assert r.completion is None and r.rule == "fallback_refuse"


def test_tightening_rejects_just_below_base_after_enough_rejections() -> None:
    scripts = {"a": [0.9, 0.9, 0.49, 0.1]}
    (r,), _, _ = run(scripts, FilterConfig())
    assert r.completion == "a#c2"  # control: 0.49 passes the base threshold 0.5
    cfg = FilterConfig(tighten_after=2, tighten_factor=0.5)
    (r,), _, _ = run(scripts, cfg)
    # after 2 rejections the threshold is 0.25, so 0.49 is rejected; after 3 it is 0.125
    assert r.scores == [0.9, 0.9, 0.49, 0.1] and r.completion == "a#c3"
    assert r.threshold_used == pytest.approx(0.125)
    # but before tighten_after rejections it is not tightened
    (r,), _, _ = run({"a": [0.9, 0.49]}, cfg)
    assert r.completion == "a#c1" and r.threshold_used == 0.5


def test_batch_strategies_judge_a_whole_round_at_one_threshold() -> None:
    cfg = FilterConfig(strategy="batch_first", batch_size=3, tighten_after=1, tighten_factor=0.5)
    # 0.4 after two in-batch rejections still passes: tightening only counts earlier rounds
    (r,), _, _ = run({"a": [0.9, 0.9, 0.4]}, cfg)
    assert r.completion == "a#c2" and r.threshold_used == 0.5
    # in round 2, three earlier rejections give 0.5 * 0.5**3 = 0.0625
    (r,), _, _ = run({"a": [0.9, 0.9, 0.9, 0.2, 0.05, 0.01]}, cfg)
    assert r.completion == "a#c4" and r.threshold_used == pytest.approx(0.0625)


def test_rounds_batch_all_pending_prompts() -> None:
    # prompt i is accepted at its (i % 3)-th sample: 3 rounds, however many prompts
    scripts = {f"p{i}": [0.9] * (i % 3) + [0.1] for i in range(10)}
    res, gen, clf = run(scripts, FilterConfig())
    assert len(gen.calls) == 3 and len(clf.calls) == 3
    assert [len(ps) for ps, _, _ in gen.calls] == [10, 6, 3]  # only pending prompts are resampled
    assert clf.calls == [10, 6, 3]
    assert all(r.accepted for r in res) and [r.attempts for r in res] == [i % 3 + 1 for i in range(10)]
    stats = rejection_stats(res)
    assert stats.total_generator_calls == 3 and stats.total_classifier_calls == 3


def test_batch_rounds_batch_all_pending_prompts() -> None:
    scripts = {f"p{i}": [0.9] * (2 * (i % 3)) + [0.1] for i in range(9)}
    cfg = FilterConfig(strategy="batch_first", batch_size=2, max_attempts=8)
    res, gen, clf = run(scripts, cfg)
    assert [(len(ps), n) for ps, n, _ in gen.calls] == [(9, 2), (6, 2), (3, 2)]
    assert clf.calls == [18, 12, 6]
    assert all(r.accepted for r in res)


def test_determinism_with_seed() -> None:
    cfg = FilterConfig(strategy="batch_safest", batch_size=2, max_attempts=10, threshold=0.15, seed=7)
    prompts = [f"p{i}" for i in range(12)]

    def once(c: FilterConfig) -> tuple[list[FilterResult], list[int | None]]:
        gen = RandomGenerator()
        return filter_generate(gen, LookupClassifier(gen.table), prompts, c, progress=False), gen.seeds

    a, seeds_a = once(cfg)
    b, seeds_b = once(cfg)
    assert a == b and seeds_a == seeds_b
    assert len(seeds_a) > 1 and len(set(seeds_a)) == len(seeds_a)  # a fresh seed every round
    assert seeds_a == [round_seed(7, i) for i in range(len(seeds_a))]
    c, seeds_c = once(FilterConfig(**{**cfg.__dict__, "seed": 8}))
    assert seeds_c[0] != seeds_a[0] and [r.scores for r in c] != [r.scores for r in a]
    _, seeds_none = once(FilterConfig(**{**cfg.__dict__, "seed": None}))
    assert set(seeds_none) == {None}


def test_classifier_threshold_used_unless_overridden() -> None:
    (r,), _, _ = run({"a": [0.3, 0.1]}, FilterConfig(), threshold=0.2)
    assert r.completion == "a#c1" and r.threshold_used == 0.2 and r.base_threshold == 0.2
    (r,), _, _ = run({"a": [0.3, 0.1]}, FilterConfig(threshold=0.4), threshold=0.2)
    assert r.completion == "a#c0" and r.threshold_used == 0.4


def test_bad_backends_raise() -> None:
    class Short(ScriptedGenerator):
        def generate(self, prompts, n=1, seed=None):  # type: ignore[no-untyped-def]
            return super().generate(prompts, n, seed)[:-1]

    gen = Short({"a": [0.1], "b": [0.1]})
    with pytest.raises(ValueError, match="must return 2 lists of 1 completions"):
        filter_generate(gen, LookupClassifier(gen.table), ["a", "b"], progress=False)
    gen2 = ScriptedGenerator({"a": [0.1]})
    with pytest.raises(ValueError, match="not a probability"):
        filter_generate(gen2, LookupClassifier(gen2.table, threshold=1.5), ["a"], progress=False)


def test_empty_prompts_make_no_calls() -> None:
    res, gen, clf = run({}, FilterConfig(), prompts=[])
    assert res == [] and gen.calls == [] and clf.calls == []


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    gen = ScriptedGenerator({f"p{i}": [0.9] * i + [0.1] for i in range(5)})
    res = filter_generate(gen, LookupClassifier(gen.table), [f"p{i}" for i in range(5)], progress=True)
    assert all(r.accepted for r in res)


def test_filtered_generator_is_a_generator() -> None:
    gen = ScriptedGenerator({"a": [0.9, 0.1, 0.2, 0.7, 0.9, 0.9, 0.9], "b": [0.05, 0.3]})
    fg = FilteredGenerator(gen, LookupClassifier(gen.table), FilterConfig(max_attempts=3))
    assert isinstance(fg, Generator) and fg.name == "filtered:scripted"
    out = fg.generate(["a", "b"], n=2, seed=3)
    assert [len(c) for c in out] == [2, 2]
    assert all(isinstance(c, Completion) for cs in out for c in cs)
    # "a" is filtered twice: first gets c1 (0.1) after c0; the second sees its own draws.
    texts = [[c.text for c in cs] for cs in out]
    assert texts[1] == ["b#c0", "b#c1"]
    assert len(fg.last_results) == 4 and [r.prompt for r in fg.last_results] == ["a", "a", "b", "b"]
    for c, r in zip([c for cs in out for c in cs], fg.last_results):
        if r.completion is None:
            assert c.text == "" and c.meta == {"refused": True, "filter_rule": "fallback_refuse"}
        else:
            assert c.text == r.completion and c.meta["filter_rule"] == r.rule and c.meta["score"] <= 0.5
    assert gen.calls[0][2] == round_seed(3, 0)  # generate's seed overrides config.seed


def test_filtered_generator_refusals() -> None:
    gen = ScriptedGenerator({"a": [0.9] * 10})
    fg = FilteredGenerator(gen, LookupClassifier(gen.table), FilterConfig(max_attempts=2))
    ((c,),) = fg.generate(["a"])
    assert c == Completion(text="", logprob=None, meta={"refused": True, "filter_rule": "fallback_refuse"})
    fg2 = FilteredGenerator(gen, LookupClassifier(gen.table), FilterConfig(max_attempts=2, fallback="safest"))
    ((c,),) = fg2.generate(["a"])
    assert c.text.startswith("a#c") and c.meta["filter_rule"] == "fallback_safest"


class IdRecordingGenerator:
    """Writes ``"<prompt id>:<i>"`` and records exactly what it was given (Prompt objects or strings)."""

    name = "ids"

    def __init__(self) -> None:
        self.given: list[list[object]] = []

    def generate(self, prompts, n=1, seed=None):  # type: ignore[no-untyped-def]
        self.given.append(list(prompts))
        return [[Completion(text=f"{as_prompt(p).id}:{j}") for j in range(n)] for p in prompts]


class TextOnlyClassifier:
    """Rejects everything on the first round; raises unless given plain-string prompts."""

    threshold = 0.5

    def __init__(self) -> None:
        self.calls = 0

    def score(self, prompts, completions):  # type: ignore[no-untyped-def]
        assert all(type(p) is str for p in prompts), "the classifier must get prompt texts"
        self.calls += 1
        return [0.9 if self.calls == 1 else 0.1] * len(completions)


def test_prompt_ids_survive_generate_and_filter() -> None:
    twins = [Prompt("row-1", "Same text."), Prompt("row-2", "Same text."), "Plain text."]
    gen = IdRecordingGenerator()
    results = filter_generate(gen, TextOnlyClassifier(), twins, FilterConfig(max_attempts=3), progress=False)
    # The generator got the Prompt objects themselves (a StoryWorld backend needs its own), each round.
    assert gen.given[0] == twins and gen.given[1] == twins
    assert [r.prompt_id for r in results] == ["row-1", "row-2", text_prompt_id("Plain text.")]
    assert [r.prompt for r in results] == ["Same text.", "Same text.", "Plain text."]
    assert [r.completion for r in results] == ["row-1:0", "row-2:0", f"{text_prompt_id('Plain text.')}:0"]
    fg = FilteredGenerator(IdRecordingGenerator(), TextOnlyClassifier(), FilterConfig(max_attempts=3))
    out = fg.generate(twins[:2], n=2)
    assert [r.prompt_id for r in fg.last_results] == ["row-1", "row-1", "row-2", "row-2"]
    assert [c.text for cs in out for c in cs] == ["row-1:0", "row-1:0", "row-2:0", "row-2:0"]
    with pytest.raises(TypeError, match="single string"):
        filter_generate(gen, TextOnlyClassifier(), "one prompt", progress=False)


def test_storyworld_prompt_ids_survive_the_filter_and_twins_keep_their_scenes() -> None:
    from nines.storyworld import StoryWorld

    world = StoryWorld()
    prompts = world.sample_prompts(30, seed=3)
    gen = world.generator()
    results = filter_generate(gen, TextOnlyClassifier(), prompts, FilterConfig(max_attempts=2), progress=False)
    assert [r.prompt_id for r in results] == [p.id for p in prompts]
    assert all(r.completion_meta["scene_id"] == p.meta["scene_id"] for r, p in zip(results, prompts))
    labels = world.oracle().label(prompts, [r.completion or "" for r in results])
    assert labels == [r.completion_meta["injurious"] for r in results]
