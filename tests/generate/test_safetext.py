"""SafeText as a generator with an exact oracle: stable ids, known sampling frequencies, a disjoint split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from nines.generate.base import Generator, Prompt
from nines.generate.registry import load_generator
from nines.generate.safetext import SafeTextConfig, SafeTextGenerator
from nines.generate.safetext_data import load_scenarios, parse_scenarios, scenario_id
from nines.oracle import ExactOracle, Oracle

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def gen(shared_dir: Path) -> SafeTextGenerator:
    return SafeTextGenerator(SafeTextConfig(p_unsafe=0.2, path=str(shared_dir / "data" / "safetext.json")))


def test_every_scenario_has_a_stable_id_from_its_text(gen: SafeTextGenerator, shared_dir: Path) -> None:
    assert len(gen.scenarios) == 367
    ids = [s.id for s in gen.scenarios]
    assert len(set(ids)) == 367 and all(i.startswith("safetext:") and len(i) == len("safetext:") + 16 for i in ids)
    again = load_scenarios(shared_dir / "data" / "safetext.json")
    assert [s.id for s in again] == ids
    assert gen.scenarios[0].id == scenario_id(gen.scenarios[0].text)
    # The id does not depend on the file's order.
    data = json.loads((shared_dir / "data" / "safetext.json").read_text())
    reordered = parse_scenarios(dict(reversed(list(data.items()))))
    assert {s.id: s.text for s in reordered} == {s.id: s.text for s in gen.scenarios}


def test_split_is_disjoint_covers_everything_and_is_stable(gen: SafeTextGenerator) -> None:
    parts = {k: {p.id for p in gen.dataset_prompts(k)} for k in ("train", "calibration", "test")}
    assert not (parts["train"] & parts["calibration"]) and not (parts["train"] & parts["test"])
    assert not (parts["calibration"] & parts["test"])
    assert set().union(*parts.values()) == {s.id for s in gen.scenarios}
    assert 130 < len(parts["train"]) < 240 and len(parts["test"]) > 50 and len(parts["calibration"]) > 50
    spec = load_generator(f"safetext:split=test,path={gen.config.path}")
    assert {p.id for p in spec.dataset_prompts()} == parts["test"]


def test_sampling_frequency_matches_p_unsafe(gen: SafeTextGenerator) -> None:
    prompts = gen.dataset_prompts("all")
    out = gen.generate(prompts, n=20, seed=3)
    assert all(len(cs) == 20 for cs in out)
    k = sum(c.meta["unsafe"] for cs in out for c in cs)
    n = 20 * len(prompts)
    assert binomtest(k, n, 0.2).pvalue > 1e-3, (k, n)
    # Uniform within a list: the first safe continuation of two-safe scenarios is drawn half the time.
    two = [(p, cs) for p, cs in zip(prompts, out) if len(gen.scenario(p).safe) == 2
           and len(set(gen.scenario(p).safe)) == 2]
    first = sum(c.text.strip() == gen.scenario(p).safe[0] for p, cs in two for c in cs if not c.meta["unsafe"])
    total = sum(not c.meta["unsafe"] for _, cs in two for c in cs)
    if total:
        assert binomtest(first, total, 0.5).pvalue > 1e-3


def test_seeded_draws_are_reproducible_and_independent_of_the_batch(gen: SafeTextGenerator) -> None:
    ps = gen.dataset_prompts("test")[:10]
    a = gen.generate(ps, n=5, seed=7)
    assert a == gen.generate(ps, n=5, seed=7)
    assert gen.generate(ps[3:4], n=5, seed=7)[0] == a[3]
    assert a != gen.generate(ps, n=5, seed=8)
    twice = gen.generate([ps[0], ps[0]], n=30, seed=7)
    assert twice[0] != twice[1]  # a repeat of a prompt in one call gets its own draws
    assert gen.generate(ps[:1], n=30, seed=7)[0] == twice[0]


def test_exact_oracle_agrees_with_the_sampled_labels(gen: SafeTextGenerator) -> None:
    oracle = gen.oracle()
    assert isinstance(oracle, Oracle) and isinstance(oracle, ExactOracle) and isinstance(gen, Generator)
    ps = gen.dataset_prompts("train")
    out = gen.generate(ps, n=6, seed=1)
    pairs = [(p, c) for p, cs in zip(ps, out) for c in cs]
    labels = oracle.label([p for p, _ in pairs], [c.text for _, c in pairs])
    assert labels == [c.meta["unsafe"] for _, c in pairs]
    assert oracle.probability(ps[:3]) == [0.2, 0.2, 0.2]
    assert all(np.isfinite(c.logprob) and c.logprob < 0 for _, c in pairs)


def test_prompts_are_looked_up_by_id_never_by_text(gen: SafeTextGenerator) -> None:
    p = gen.dataset_prompts("all")[0]
    with pytest.raises(ValueError, match="not a SafeText scenario"):
        gen.generate([p.text], n=1, seed=0)  # a plain string's id is its text hash
    with pytest.raises(ValueError, match="not a SafeText scenario"):
        gen.generate([Prompt("safetext:0000000000000000", p.text)], n=1, seed=0)
    oracle = gen.oracle()
    unsafe = gen.scenario(p).unsafe[0]
    assert oracle.label([p, Prompt("other", p.text)], [" " + unsafe, unsafe]) == [True, None]
    other = gen.dataset_prompts("all")[1]
    assert oracle.label([other], [unsafe]) == [None]  # another scenario's continuation is not labelled


def test_missing_file_says_where_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"NINES_SHARED.*path="):
        SafeTextGenerator(SafeTextConfig(path=str(tmp_path / "nope.json")))
    with pytest.raises(ValueError, match="p_unsafe"):
        load_generator("safetext:p_unsafe=2")
    with pytest.raises(ValueError, match="unknown config key"):
        load_generator("safetext:bogus=1")


def test_bad_shape_is_reported_with_the_scenario() -> None:
    with pytest.raises(ValueError, match="both safe and unsafe"):
        parse_scenarios({"To nap,": {"safe": ["lie down."], "unsafe": ["lie down."]}})
    with pytest.raises(ValueError, match='field "unsafe"'):
        parse_scenarios({"To nap,": {"safe": ["lie down."]}})
