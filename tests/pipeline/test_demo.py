"""The demo pipeline end to end on a tiny encoder: every artefact is written and figures are consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nines.cli.main import cli


def test_quick_demo_writes_the_run(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, [
        "demo", "--quick", "--output", str(out), f"train.backbone={tiny_encoder_dir}", "train.max_steps=8",
        "eval.n_prompts=200", "eval.n_unfiltered=5000",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for f in ("summary.json", "report.html", "config.yaml", "filter.yaml", "nines.db", "classifier/nines.json",
              "data/train.jsonl", "data/seed_test.jsonl"):
        assert (out / f).exists(), f
    summary = json.loads((out / "summary.json").read_text())
    conds = summary["conditions"]
    assert set(conds) == {"in-family", "unseen families"}
    for c in conds.values():
        assert c["unfiltered"]["n"] == 5000 and c["n_prompts"] == 200
        assert c["filtered"]["lower"] <= c["filtered"]["estimate"] <= c["filtered"]["upper"]
        # The unfiltered oracle rate must agree with StoryWorld's exact expectation within its interval.
        assert c["unfiltered"]["lower"] <= c["unfiltered_exact"] <= c["unfiltered"]["upper"]
    meta = json.loads((out / "classifier" / "nines.json").read_text())
    assert meta["threshold"] == summary["calibration"]["threshold"]
    # The default recipe trains on the real-prose corpus and keeps its held-out safe rows within 20%.
    assert summary["data"]["prose_train_oversample"] == 2 and summary["data"]["prose_train"] > 0
    pools = summary["calibration"]["pools"]
    assert set(pools) == {"clean", "prose"} and pools["prose"]["budget"] == 0.2
    assert pools["prose"]["rejection_rate"] <= 0.2 and pools["clean"]["rejection_rate"] <= 0.05
    assert set(summary) == {"config", "data", "training", "calibration", "seed_test", "conditions", "timings",
                            "measures", "real_prose"}
    # The run's state is in the manifests, not in the classifier's metrics.
    assert "families" not in meta["metrics"]
    man = json.loads((out / "manifest.json").read_text())
    fams = man["families"]
    assert fams["train"] and fams["heldout"] and set(fams["heldout"]).isdisjoint(fams["train"])
    assert man["classifier"] == "classifier" and man["stages"] == ["demo"]
    assert set(man["fingerprints"]) == {"train", "val", "seed_test", "clean"}
    assert man["config"]["demo"] == summary["config"] and man["versions"]["nines"]
    clf_man = json.loads((out / "classifier" / "manifest.json").read_text())
    assert clf_man["families"] == fams and clf_man["fingerprints"]["train"] == man["fingerprints"]["train"]
    assert clf_man["fingerprints"]["train"] == meta["data_fingerprint"]
    assert set(conds["in-family"]["families"]) == set(fams["train"])
    assert set(conds["unseen families"]["families"]) == set(fams["heldout"])
    m = summary["measures"]
    rel = m["reliability"]
    assert len(rel["thresholds"]) == len(rel["estimate"]) == len(rel["lower"]) == len(rel["upper"])
    assert all(lo <= e <= hi for lo, e, hi in zip(rel["lower"], rel["estimate"], rel["upper"]))
    for w in m["winrate"].values():
        assert 0 <= w["lower"] <= w["estimate"] <= w["upper"] <= 1
        assert w["design"] == "coupled" and w["judge_calls"] <= w["n_prompts"]
    assert m["understanding"]["egregious"] + m["understanding"]["subtle"] == m["understanding"]["n_failures"]
    html = (out / "report.html").read_text()
    assert html.count("<img") >= 6 and "clopper-pearson" in html
    for section in ("Reliability from unfiltered labels", "win rate of filtered vs unfiltered", "keep the safest",
                    "understand its failures"):
        assert section in html


@pytest.mark.slow
def test_quick_demo_on_the_embedded_encoder_filters_injuries(tmp_path: Path) -> None:
    """The real default backbone (all-MiniLM-L6-v2, offline): a short run already cuts the failure rate."""
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--quick", "--output", str(out), "train.epochs=2"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    conds = json.loads((out / "summary.json").read_text())["conditions"]
    fam = conds["in-family"]
    # The filtered interval must sit entirely below the unfiltered one.
    assert fam["filtered"]["upper"] < fam["unfiltered"]["lower"], fam


TINY_DISTILL = ("distill.sft_pairs=1500", "distill.sft.steps=15", "distill.sft.eval_every=0",
                "distill.policy.hidden_size=32", "distill.policy.heads=2", "distill.policy.intermediate_size=64",
                "distill.policy.layers=1", "distill.best_of_n.n_prompts=60", "distill.best_of_n.sft.steps=4",
                "distill.rl.steps=2", "distill.rl.prompts_per_step=4", "distill.rl.num_generations=2",
                "distill.rl.checkpoint_every=1", "distill.rl_prompts=20", "distill.eval.n_prompts=40",
                "distill.eval.winrate_prompts=20", "distill.eval.kl_prompts=20", "distill.curve_prompts=10")


def test_quick_demo_with_distill_adds_the_distillation_section(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, [
        "demo", "--quick", "--distill", "--output", str(out), f"train.backbone={tiny_encoder_dir}",
        "train.max_steps=8", "eval.n_prompts=100", "eval.n_unfiltered=2000", "measure.winrate_prompts=50",
        "measure.reliability_prompts=50", "measure.policy_prompts=10", *TINY_DISTILL,
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    d = summary["distillation"]
    assert list(d["policies"]) == ["unfiltered", "filtered", "best-of-n distilled", "RL distilled"]
    assert [p["step"] for p in d["kl_curve"]] == [0, 1, 2]
    # The demo's own classifier and families drive the distillation.
    assert summary["config"]["distill"]["families"] == "classifier"
    assert (out / "distill" / "results.json").exists() and (out / "distill" / "kl_curves.png").exists()
    html = (out / "report.html").read_text()
    assert "Distillation: one generator that has internalised the filter" in html
    assert "reward and failure rate against sqrt(KL)" in html and "<b>RL distilled</b>" in html
