"""rejection_stats on known results."""

from __future__ import annotations

import math

from filter_fakes import LookupClassifier, ScriptedGenerator

from nines.filter import FilterConfig, filter_generate, rejection_stats


def test_stats_on_known_results() -> None:
    scripts = {
        "a": [0.1],  # accepted first
        "b": [0.9, 0.2],  # first rejected, accepted second
        "c": [0.9, 0.8, 0.7],  # falls back to the safest
        "d": [0.6, 0.1],  # first rejected, accepted second
    }
    gen = ScriptedGenerator(scripts)
    res = filter_generate(gen, LookupClassifier(gen.table), list(scripts), FilterConfig(max_attempts=3, fallback="safest"), progress=False)
    s = rejection_stats(res)
    assert (s.n_prompts, s.n_accepted, s.n_refused, s.n_fallback) == (4, 3, 0, 1)
    assert s.mean_attempts == (1 + 2 + 3 + 2) / 4
    assert s.attempts_per_accepted == 8 / 3
    assert s.first_sample_rejection_rate == 3 / 4
    assert s.total_generator_calls == len(gen.calls) == 3 and s.total_classifier_calls == 3


def test_stats_add_up_calls_across_runs_and_handle_edge_cases() -> None:
    gen = ScriptedGenerator({"a": [0.9] * 10, "b": [0.9] * 10})
    clf = LookupClassifier(gen.table)
    r1 = filter_generate(gen, clf, ["a"], FilterConfig(max_attempts=2), progress=False)
    r2 = filter_generate(gen, clf, ["b"], FilterConfig(max_attempts=3), progress=False)
    s = rejection_stats(r1 + r2)
    assert s.total_generator_calls == len(gen.calls) == 5
    assert s.n_refused == 2 and s.n_accepted == 0 and math.isinf(s.attempts_per_accepted)
    empty = rejection_stats([])
    assert empty.n_prompts == 0 and empty.total_generator_calls == 0 and math.isnan(empty.mean_attempts)
