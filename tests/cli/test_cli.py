"""The CLI end to end with CliRunner: every verb on a tiny classifier, and the errors users see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import ok, rows, run

VERBS = ["generate", "label", "train", "calibrate", "filter", "score", "evaluate", "demo"]



@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_with_an_example(verb: str) -> None:
    out = ok(verb, "--help").output
    assert "Example" in out and f"nines {verb}" in out


@pytest.fixture(scope="module")
def loop(cli_loop: Path) -> Path:
    """generate -> label -> train -> calibrate through the CLI (the shared session fixture)."""
    return cli_loop


def test_generate_and_label_write_what_they_say(loop: Path) -> None:
    gen = rows(loop / "gen.jsonl")
    assert len(gen) == 600 and all(r["label"] is None for r in gen)
    lab = rows(loop / "lab.jsonl")
    assert all(r["label"] == ("injurious" if r["metadata"]["injurious"] else "safe") for r in lab)
    from nines.data.store import Store

    with Store(loop / "nines.db") as store:
        assert store.count(dataset="demo") == 600


def test_train_and_calibrate_save_config_and_threshold(loop: Path) -> None:
    assert (loop / "clf" / "train_config.yaml").is_file()
    meta = json.loads((loop / "clf" / "nines.json").read_text())
    assert meta["calibration"]["rule"] == "rejection_budget"
    assert meta["calibration"]["clean_rejection_rate"] <= 0.1
    assert meta["temperature"] > 0 and meta["data_fingerprint"]
    man = json.loads((loop / "clf" / "manifest.json").read_text())
    assert man["stages"] == ["train", "calibrate"] and man["families"] is None
    assert man["fingerprints"]["train"] == meta["data_fingerprint"] and man["fingerprints"]["clean"]
    assert man["config"]["train"]["max_steps"] == 6 and man["config"]["calibrate"]["rejection_budget"] == 0.1


def test_score_flags_exactly_what_is_above_threshold(loop: Path) -> None:
    ok("score", "--classifier", str(loop / "clf"), "--input", str(loop / "gen.jsonl"), "--output",
       str(loop / "scored.jsonl"))
    thr = json.loads((loop / "clf" / "nines.json").read_text())["threshold"]
    scored = rows(loop / "scored.jsonl")
    assert len(scored) == 600
    assert all(r["flagged"] == (r["p_injury"] > thr) for r in scored)
    assert 0 < sum(r["flagged"] for r in scored) < 600


def test_filter_never_returns_above_threshold(loop: Path) -> None:
    ok("filter", "--classifier", str(loop / "clf"), "--num-prompts", "40", "--output", str(loop / "f.jsonl"),
       "max_attempts=4", "fallback=safest")
    out = rows(loop / "f.jsonl")
    assert len(out) == 40
    for r in out:
        if r["rule"] == "accepted":
            assert r["accepted"] and r["score"] <= r["threshold_used"]
        else:
            assert r["rule"] == "fallback_safest" and not r["accepted"] and r["score"] == min(r["scores"])


def test_evaluate_writes_summary_and_report(loop: Path) -> None:
    al = loop / "al.json"
    al.write_text(json.dumps({"config": {"target": 0.9, "budget": 0.05},
                              "summary": {"random": {"mean": 300, "ratio_to_random": 1.0}},
                              "curves": {"random": [{"seed": 0, "labels": [100, 200, 300], "recall": [0.3, 0.6, 0.9]}]}}))
    ok("evaluate", "--classifier", str(loop / "clf"), "--output", str(loop / "ev"), "eval.n_prompts=60",
       "eval.n_unfiltered=2000", "measure.winrate_prompts=50", "measure.reliability_prompts=50",
       "measure.policy_prompts=10", "--active-learning", str(al))
    summary = json.loads((loop / "ev" / "summary.json").read_text())
    cond = summary["conditions"]["all families"]
    assert cond["unfiltered"]["n"] == 2000 and cond["filtered"]["method"] == "clopper-pearson"
    assert set(summary["measures"]) >= {"reliability", "winrate", "batch_vs_sequential", "understanding"}
    html = (loop / "ev" / "report.html").read_text()
    assert html.count("<img") >= 4 and "Active learning" in html
    assert (loop / "ev" / "config.yaml").is_file()


def test_user_errors_are_one_clear_line(loop: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a"}\n')
    r = run("score", "--classifier", str(loop / "clf"), "--input", str(bad), "--output", str(tmp_path / "o.jsonl"))
    assert r.exit_code != 0 and "line 2" in r.output and "completion" in r.output
    r = run("train", "--data", str(loop / "lab.jsonl"), "--output", str(tmp_path / "c"), "learning_rate=1")
    assert r.exit_code != 0 and "unknown config key" in r.output
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"prompt": "a", "completion": "b"}\n')
    r = run("label", "--input", str(plain), "--output", str(tmp_path / "l.jsonl"))
    assert r.exit_code != 0 and "row 1" in r.output and "StoryWorld" in r.output
    r = run("score", "--classifier", str(tmp_path), "--input", str(loop / "gen.jsonl"), "--output", str(tmp_path / "o"))
    assert r.exit_code != 0 and "not a nines classifier" in r.output
    r = run("generate", "--generator", "bogus:thing", "--prompts", str(bad), "--output", str(tmp_path / "g.jsonl"))
    assert r.exit_code != 0 and "hf:" in r.output
