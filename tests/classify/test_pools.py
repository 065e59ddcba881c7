"""Clean pools: the threshold keeps every pool within its budget, pools load from files, and the CLI uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nines.classify.pools import CleanPool, file_pool, parse_pool_spec, prose_pool, threshold_over_pools
from nines.generate.base import Completion


def _pool(name: str, n: int, budget: float | None) -> CleanPool:
    return CleanPool(name, [f"p{i}" for i in range(n)], [f"c{i}" for i in range(n)], budget)


@pytest.mark.parametrize("seed", range(5))
def test_threshold_is_the_smallest_within_every_budget(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = [rng.beta(1, 8, size=400), rng.beta(2, 3, size=150), rng.beta(1, 1, size=60)]
    pools = [_pool("a", 400, None), _pool("b", 150, 0.2), _pool("c", 60, 0.3)]
    t, results = threshold_over_pools(scores, pools, default_budget=0.05)
    budgets = [0.05, 0.2, 0.3]
    for s, b, r in zip(scores, budgets, results):
        assert np.mean(s > t) <= b + 1e-12 and r.rejection_rate == pytest.approx(np.mean(s > t))
    # Brute force over every candidate threshold: none smaller keeps all pools within budget.
    candidates = np.sort(np.concatenate(scores))
    feasible = [c for c in candidates if all(np.mean(s > c) <= b + 1e-12 for s, b in zip(scores, budgets))]
    assert t == pytest.approx(min(feasible))
    assert [r.budget for r in results] == budgets


def test_pool_specs_and_errors(tmp_path: Path) -> None:
    assert parse_pool_spec("prose@0.2") == ("prose", 0.2)
    assert parse_pool_spec("x.jsonl") == ("x.jsonl", None)
    with pytest.raises(ValueError, match="must be a number"):
        parse_pool_spec("x.jsonl@lots")
    with pytest.raises(ValueError, match="budget must be in"):
        _pool("x", 3, 1.5)
    with pytest.raises(ValueError, match="does not exist"):
        file_pool(str(tmp_path / "missing.jsonl"))


class EchoGenerator:
    name = "echo"

    def generate(self, prompts: list[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        return [[Completion(f"{p} and then tea.")] * n for p in prompts]


def test_file_pool_reads_pairs_and_fills_missing_completions(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps({"prompt": "A", "completion": "B"}) + "\n" + json.dumps({"prompt": "C"}) + "\n")
    with pytest.raises(ValueError, match="1 rows have no 'completion'"):
        file_pool(str(path))
    pool = file_pool(str(path), budget=0.1, generator=EchoGenerator())
    assert pool.completions == ["B", "C and then tea."] and pool.budget == 0.1 and pool.name == "pool.jsonl"


def test_cli_calibrate_with_a_pool_keeps_it_within_budget(cli_loop: Path, tmp_path: Path) -> None:
    from nines.cli.main import cli

    clf = tmp_path / "clf"
    shutil.copytree(cli_loop / "clf", clf)
    pool = tmp_path / "mine.jsonl"
    rows = [json.loads(line) for line in (cli_loop / "gen.jsonl").read_text().splitlines()][:200]
    pool.write_text("".join(json.dumps({"prompt": r["prompt"], "completion": r["completion"]}) + "\n" for r in rows))
    res = CliRunner().invoke(cli, ["calibrate", "--classifier", str(clf), "--data", str(cli_loop / "lab.jsonl"),
                                   "--clean-n", "300", "--pool", f"{pool}@0.01", "rejection_budget=0.1"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "pool mine.jsonl: 200 samples" in res.output
    meta = json.loads((clf / "nines.json").read_text())
    pools = meta["calibration"]["pools"]
    assert set(pools) == {"clean", "mine.jsonl"}
    assert pools["mine.jsonl"]["rejection_rate"] <= 0.01 and pools["clean"]["rejection_rate"] <= 0.1
    assert meta["threshold"] == pytest.approx(max(p["threshold_alone"] for p in pools.values()))


def test_prose_pool_is_held_out_of_training_and_testing() -> None:
    """The built-in pool is the corpus's safe calibration rows: none of them is trained on or tested on."""
    from nines.data.prose import load_prose
    from nines.recipes.data import DataConfig, build_run_data
    from nines.storyworld import StoryWorld

    pool = prose_pool(0.2)
    rows = load_prose()
    cal = {(s.prompt, s.completion) for s in rows if s.split == "val" and s.is_injurious is False}
    assert set(zip(pool.prompts, pool.completions)) == cal and len(cal) >= 100
    data = build_run_data(StoryWorld(seed=0), DataConfig(n_train=50, n_val=20, prose_oversample=1), seed=0)
    seen = {(s.prompt, s.completion) for s in data.train + data.val + data.seed_test + data.prose_test}
    assert not cal & seen
