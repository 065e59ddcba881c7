"""``nines distill`` end to end with CliRunner on a tiny calibrated classifier, and the errors users see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli_run import ok, run

SMALL = ["sft_pairs=1500", "sft.steps=20", "sft.eval_every=0", "policy.hidden_size=32", "policy.heads=2",
         "policy.intermediate_size=64", "policy.layers=1", "best_of_n.n_prompts=80", "best_of_n.sft.steps=5",
         "rl.steps=3", "rl.prompts_per_step=4", "rl.num_generations=2", "rl.checkpoint_every=2", "rl_prompts=40",
         "eval.n_prompts=60", "eval.winrate_prompts=30", "eval.kl_prompts=30", "curve_prompts=20"]
POLICIES = {"unfiltered", "filtered", "best-of-n distilled", "RL distilled"}



def test_distill_help_has_an_example() -> None:
    out = ok("distill", "--help").output
    assert "Example" in out and "nines distill" in out and "--classifier" in out


@pytest.fixture(scope="module")
def classifier(cli_loop: Path) -> Path:
    """The tiny calibrated classifier the CLI loop made (no training families saved)."""
    return cli_loop / "clf"


@pytest.fixture(scope="module")
def distilled(classifier: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole (tiny) distillation run."""
    out = tmp_path_factory.mktemp("distill") / "run"
    ok("distill", "--classifier", str(classifier), "--output", str(out), "families=all", *SMALL)
    return out


def test_distill_writes_results_config_plot_and_policies(distilled: Path) -> None:
    for name in ("results.json", "config.yaml", "kl_curves.png"):
        assert (distilled / name).is_file() and (distilled / name).stat().st_size > 0, name
    for folder in ("start", "best_of_n", "rl/policy", "rl/checkpoints/step_2"):
        assert (distilled / folder / "config.json").is_file(), folder
        assert (distilled / folder / "tokenizer.json").is_file(), folder
    assert (distilled / "kl_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_distill_results_compare_the_four_policies(distilled: Path) -> None:
    res = json.loads((distilled / "results.json").read_text())
    pol = res["policies"]
    assert set(pol) == POLICIES
    assert pol["unfiltered"]["kl"] == 0.0 and pol["unfiltered"]["generator_calls"] == 1.0
    assert pol["unfiltered"]["classifier_calls"] == 0.0
    assert pol["filtered"]["classifier_calls"] >= 1.0 and pol["filtered"]["generator_calls"] >= 1.0
    # The filtered policy's KL is positive exactly when some prompt needed a second sample.
    assert (pol["filtered"]["kl"] > 0.0) == (pol["filtered"]["generator_calls"] > 1.0)
    for name in ("best-of-n distilled", "RL distilled"):
        assert pol[name]["generator_calls"] == 1.0 and pol[name]["classifier_calls"] == 0.0
        assert pol[name]["refused"] == 0 and pol[name]["n"] == 60
    for p in pol.values():
        assert p["n"] + p["refused"] == 60
        assert 0.0 <= p["winrate"]["estimate"] <= 1.0
        assert p["failure_worst_case"]["n"] == p["n"]
    assert res["start"]["parameters"] > 0 and res["start"]["steps"] == 20
    assert res["best_of_n"]["accepted"] + res["best_of_n"]["refused"] == 80
    assert [c[0] for c in res["rl"]["checkpoints"]] == [2, 3] and len(res["rl"]["history"]) == 3
    assert [p["step"] for p in res["kl_curve"]] == [0, 2, 3] and res["kl_curve"][0]["kl"] == 0.0
    # The world's own exact rate is over the very prompts the policies continued (families=all).
    from nines.distill.measure import PolicyEvalConfig
    from nines.storyworld import StoryWorld

    world = StoryWorld()
    prompts = world.sample_prompts(60, seed=PolicyEvalConfig().seed)
    exact = sum(world.injury_probability(p) for p in prompts) / 60
    assert res["world_exact_failure_rate"] == pytest.approx(exact, rel=1e-12)
    assert res["config"]["families"] == "all" and res["config"]["rl"]["steps"] == 3
    saved = yaml.safe_load((distilled / "config.yaml").read_text())
    assert saved["rl"]["steps"] == 3 and saved["families"] == "all" and saved["policy"]["hidden_size"] == 32


def test_missing_classifier_points_to_nines_demo(tmp_path: Path) -> None:
    r = run("distill", "--classifier", str(tmp_path / "nope"), "--output", str(tmp_path / "out"))
    assert r.exit_code != 0 and "nines demo" in r.output and "nope" in r.output
    assert not (tmp_path / "out").exists()


def test_unknown_method_is_a_usage_error(classifier: Path, tmp_path: Path) -> None:
    r = run("distill", "--classifier", str(classifier), "--output", str(tmp_path / "out"), "methods=foo")
    assert r.exit_code == 2
    assert "methods must be a subset of" in r.output and "best_of_n" in r.output and "rl" in r.output
    assert "foo" in r.output


def test_default_families_need_classifier_metadata(classifier: Path, tmp_path: Path) -> None:
    r = run("distill", "--classifier", str(classifier), "--output", str(tmp_path / "out"), *SMALL)
    assert r.exit_code != 0 and "families=all" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out" / "start").exists()  # it stopped before training anything
