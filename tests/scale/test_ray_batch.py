"""Ray Data scoring and filtering on a local 2-CPU cluster give what one process gives (slow: `make test-slow`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nines.classify.encoder import EncoderClassifier
from nines.cli.main import cli
from nines.filter import FilterConfig
from nines.scale.shards import filter_in_shards
from nines.storyworld import StoryWorld

ray = pytest.importorskip("ray")

from nines.scale.ray_batch import FilterJob, RayConfig, ray_filter, ray_score  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One local Ray cluster (2 CPUs) for the whole module; the CLI's --ray reuses it."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield
    ray.shutdown()


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _cli(*args: str) -> str:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.slow  # a Ray cluster on 2 busy cores: 30-60 s each
def test_ray_score_equals_single_process(cluster: None, half_clf_dir: Path) -> None:
    b = StoryWorld().sample(700, seed=2)
    ref = EncoderClassifier.load(half_clf_dir).score(b.prompts, b.completions)
    got = ray_score(str(half_clf_dir), b.prompts, b.completions, RayConfig(concurrency=2, batch_size=64))
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) < 1e-6
    # The scores are not all alike, so a permuted result could not pass the check above.
    assert np.std(ref) > 1e-3


@pytest.mark.slow  # a Ray cluster on 2 busy cores: 30-60 s each
def test_score_cli_with_ray_writes_the_same_rows(cluster: None, half_clf_dir: Path, tmp_path: Path) -> None:
    b = StoryWorld().sample(300, seed=4)
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"prompt": p, "completion": c, "extra": i}) + "\n"
                           for i, (p, c) in enumerate(zip(b.prompts, b.completions))))
    common = ["score", "--classifier", str(half_clf_dir), "--input", str(inp), "--batch-size", "32"]
    _cli(*common, "--output", str(tmp_path / "one.jsonl"))
    _cli(*common, "--output", str(tmp_path / "ray.jsonl"), "--ray", "local", "--ray-workers", "2")
    one, par = _rows(tmp_path / "one.jsonl"), _rows(tmp_path / "ray.jsonl")
    assert len(one) == len(par) == 300
    for a, r in zip(one, par):
        assert {k: v for k, v in a.items() if k != "p_injury"} == {k: v for k, v in r.items() if k != "p_injury"}
        assert abs(a["p_injury"] - r["p_injury"]) < 1e-6
    assert 0 < sum(r["flagged"] for r in one) < 300


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert (a.prompt, a.completion, a.accepted, a.attempts, a.rule) == (b.prompt, b.completion, b.accepted,
                                                                        b.attempts, b.rule)
    assert a.completion_meta == b.completion_meta
    assert np.allclose(a.scores, b.scores, atol=1e-6, rtol=0)


@pytest.mark.slow  # a Ray cluster on 2 busy cores: 30-60 s each
def test_ray_filter_equals_sharded_single_process(cluster: None, half_clf_dir: Path) -> None:
    world = StoryWorld(seed=0)
    prompts = list(world.sample_prompts(36, seed=5))
    cfg = FilterConfig(strategy="batch_first", batch_size=2, max_attempts=6, seed=5, fallback="safest")
    ref = filter_in_shards(world.generator(), EncoderClassifier.load(half_clf_dir), prompts, cfg, shard_size=7)
    job = FilterJob(str(half_clf_dir), "storyworld", cfg)
    got = ray_filter(job, prompts, RayConfig(concurrency=2), shard_size=7)
    assert len(got) == len(ref) == 36
    for a, b in zip(ref, got):
        _same(a, b)
    assert any(r.attempts > 2 for r in ref) and any(r.rule == "fallback_safest" for r in ref)


@pytest.mark.slow  # a Ray cluster on 2 busy cores: 30-60 s each
def test_filter_cli_with_ray_writes_the_same_rows(cluster: None, half_clf_dir: Path, tmp_path: Path) -> None:
    common = ["filter", "--classifier", str(half_clf_dir), "--num-prompts", "30", "--shard-size", "8"]
    out1 = _cli(*common, "--output", str(tmp_path / "one.jsonl"), "max_attempts=4", "seed=9")
    out2 = _cli(*common, "--output", str(tmp_path / "ray.jsonl"), "--ray", "local", "max_attempts=4", "seed=9")
    one, par = _rows(tmp_path / "one.jsonl"), _rows(tmp_path / "ray.jsonl")
    assert len(one) == len(par) == 30
    for a, r in zip(one, par):
        assert {k: v for k, v in a.items() if not k.startswith("score")} == \
               {k: v for k, v in r.items() if not k.startswith("score")}
        assert np.allclose(a["scores"], r["scores"], atol=1e-6, rtol=0)
    # The summary lines (accepted, refused, samples per prompt, oracle count) are the same too.
    assert out1.splitlines()[-2:] == out2.splitlines()[-2:]


def test_bad_ray_address_is_a_usage_error(half_clf_dir: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["filter", "--classifier", str(half_clf_dir), "--output", str(tmp_path / "o.jsonl"),
                                 "--ray", "nowhere"])
    assert r.exit_code == 2 and "ray://HOST:PORT" in r.output
