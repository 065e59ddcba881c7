"""Sharded filtering: shard seeds, backward compatibility with one shard, shards independent of the split."""

from __future__ import annotations

from pathlib import Path

import pytest

from nines.classify.encoder import EncoderClassifier
from nines.filter import FilterConfig, filter_generate
from nines.scale.shards import filter_in_shards, filter_shard, shard_bounds, shard_seed
from nines.storyworld import StoryWorld


def _key(r):  # type: ignore[no-untyped-def]
    return (r.prompt, r.completion, r.accepted, r.attempts, r.rule, r.scores)


def test_shard_seed_keeps_shard_zero_and_spreads_the_rest() -> None:
    assert shard_seed(5, 0) == 5
    assert shard_seed(None, 3) is None
    seeds = [shard_seed(5, k) for k in range(1, 200)]
    assert len(set(seeds)) == len(seeds) and 5 not in seeds
    assert shard_seed(5, 1) != shard_seed(6, 1)
    assert shard_seed(5, 1) == shard_seed(5, 1)


def test_shard_bounds_cover_every_prompt_once() -> None:
    assert shard_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert shard_bounds(0, 4) == []
    with pytest.raises(ValueError, match="shard size"):
        shard_bounds(10, 0)


@pytest.fixture(scope="module")
def setup(half_clf_dir: Path):  # type: ignore[no-untyped-def]
    world = StoryWorld()
    prompts = list(world.sample_prompts(30, seed=3))
    return world.generator(), EncoderClassifier.load(half_clf_dir), prompts


def test_one_shard_is_exactly_the_unsharded_filter(setup) -> None:  # type: ignore[no-untyped-def]
    gen, clf, prompts = setup
    cfg = FilterConfig(max_attempts=4, seed=11, fallback="safest")
    ref = filter_generate(gen, clf, prompts, cfg, progress=False)
    assert [_key(r) for r in filter_in_shards(gen, clf, prompts, cfg, shard_size=64)] == [_key(r) for r in ref]
    assert any(r.attempts > 1 for r in ref) and any(r.rule == "fallback_safest" for r in ref)


def test_a_shard_depends_only_on_its_prompts_and_index(setup) -> None:  # type: ignore[no-untyped-def]
    gen, clf, prompts = setup
    cfg = FilterConfig(strategy="batch_safest", batch_size=2, max_attempts=4, seed=11)
    whole = filter_in_shards(gen, clf, prompts, cfg, shard_size=8)
    # Shard 2 (prompts 16..23) filtered alone, as a Ray worker would, gives the same results.
    alone = filter_shard(gen, clf, prompts[16:24], cfg, shard=2)
    assert [_key(r) for r in alone] == [_key(r) for r in whole[16:24]]
    # A different shard index means a different seed, so (at this rejection rate) other samples.
    other = filter_shard(gen, clf, prompts[16:24], cfg, shard=3)
    assert [_key(r) for r in other] != [_key(r) for r in alone]
