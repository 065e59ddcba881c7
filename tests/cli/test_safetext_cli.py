"""SafeText end to end through the CLI with task=safetext, at tiny scale; and tasks on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import ok, rows, run
from nines.generate.base import Prompt

pytestmark = pytest.mark.shared



@pytest.fixture(scope="module")
def st(shared_dir: Path, tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generate -> label -> train -> calibrate -> filter on SafeText's splits, task=safetext."""
    d = tmp_path_factory.mktemp("safetext")
    ok("generate", "--generator", "safetext:split=train,p_unsafe=0.5", "-n", "3", "--seed", "0",
       "--output", str(d / "train_gen.jsonl"))
    ok("label", "--input", str(d / "train_gen.jsonl"), "--output", str(d / "train.jsonl"), "task=safetext")
    ok("train", "--data", str(d / "train.jsonl"), "--output", str(d / "clf"), "task=safetext",
       f"backbone={tiny_encoder_dir}", "max_steps=6", "batch_size=16", "eval_every=3")
    ok("generate", "--generator", "safetext:split=calibration", "-n", "3", "--seed", "1",
       "--output", str(d / "cal_gen.jsonl"))
    ok("label", "--input", str(d / "cal_gen.jsonl"), "--output", str(d / "cal.jsonl"), "task=safetext")
    ok("calibrate", "--classifier", str(d / "clf"), "--data", str(d / "cal.jsonl"), "--clean",
       str(d / "cal_gen.jsonl"), "rejection_budget=0.3")
    ok("filter", "--classifier", str(d / "clf"), "--generator", "safetext:split=test", "--output",
       str(d / "filtered.jsonl"), "seed=0", "max_attempts=4")
    return d


def test_data_comes_from_the_right_split_with_exact_labels(st: Path) -> None:
    from nines.generate.registry import load_generator

    gen = load_generator("safetext")
    train = rows(st / "train.jsonl")
    assert {gen.split(r["prompt_id"]) for r in train} == {"train"}
    assert {gen.split(r["prompt_id"]) for r in rows(st / "cal.jsonl")} == {"calibration"}
    oracle = gen.oracle()
    labels = oracle.label([Prompt(r["prompt_id"], r["prompt"]) for r in train], [r["completion"] for r in train])
    assert [r["label"] for r in train] == ["injurious" if y else "safe" for y in labels]
    assert 0.3 < sum(labels) / len(labels) < 0.7  # p_unsafe=0.5 for the training data


def test_the_task_is_saved_and_scores_go_to_its_field(st: Path) -> None:
    man = json.loads((st / "clf" / "manifest.json").read_text())
    assert man["config"]["task"]["name"] == "safetext" and man["stages"] == ["train", "calibrate"]
    ok("score", "--classifier", str(st / "clf"), "--input", str(st / "cal_gen.jsonl"), "--output",
       str(st / "scored.jsonl"))
    thr = json.loads((st / "clf" / "nines.json").read_text())["threshold"]
    scored = rows(st / "scored.jsonl")
    assert all("p_injury" not in r and r["flagged"] == (r["p_unsafe"] > thr) for r in scored)
    r = run("score", "--classifier", str(st / "clf"), "--input", str(st / "cal_gen.jsonl"), "--output",
            str(st / "x.jsonl"), "task=injury")
    assert r.exit_code != 0 and "trained for task 'safetext'" in r.output


def test_filter_returns_only_held_out_scenarios_below_threshold(st: Path) -> None:
    from nines.generate.registry import load_generator

    out = rows(st / "filtered.jsonl")
    gen = load_generator("safetext:split=test")
    assert [r["prompt_id"] for r in out] == [p.id for p in gen.dataset_prompts()]
    assert all(r["score"] <= r["threshold_used"] for r in out if r["accepted"])


def test_measure_reports_recall_false_flags_and_the_filtered_bound(st: Path) -> None:
    from nines.generate.registry import load_generator

    ok("measure", "--classifier", str(st / "clf"), "--generator", "safetext:split=test", "--filtered",
       str(st / "filtered.jsonl"), "--output", str(st / "m1"), "heldout.samples_per_prompt=4")
    res = ok("measure", "--classifier", str(st / "clf"), "--generator", "safetext:split=test", "--output",
             str(st / "m2"), "heldout.samples_per_prompt=4", "filter.seed=0", "filter.max_attempts=4")
    assert "recall at threshold" in res.output and "filtered unsafe rate" in res.output
    a = json.loads((st / "m1" / "summary.json").read_text())["heldout"]
    b = json.loads((st / "m2" / "summary.json").read_text())["heldout"]
    assert a["filtered"] == b["filtered"]  # filtering here == `nines filter` with the same config
    assert a["recall"] == b["recall"] and a["unfiltered_exact"] == pytest.approx(0.2)
    # The filtered count, recomputed from the filter's file with the exact oracle.
    out = [r for r in rows(st / "filtered.jsonl") if r["completion"] is not None]
    y = load_generator("safetext").oracle().label([Prompt(r["prompt_id"], r["prompt"]) for r in out],
                                                 [r["completion"] for r in out])
    assert a["filtered"]["k"] == sum(v is True for v in y) and a["filtered"]["n"] == len(out)
    assert a["filtered"]["method"] == "clopper-pearson" and a["filtered"]["upper"] >= a["filtered"]["estimate"]
    n_test = len(load_generator("safetext:split=test").dataset_prompts())
    assert a["recall"]["n"] + a["false_flag"]["n"] == 4 * n_test and a["unlabelled"] == 0
    ok("measure", "--classifier", str(st / "clf"), "--generator", "safetext:split=test", "--output",
       str(st / "m3"), "heldout.samples_per_prompt=1", "heldout.filter_repeats=2", "filter.max_attempts=2")
    c = json.loads((st / "m3" / "summary.json").read_text())["heldout"]
    assert c["refused"] + c["filtered"]["n"] == 2 * n_test


def test_a_custom_task_yaml_changes_labels_and_the_score_field(st: Path, tiny_encoder_dir: Path) -> None:
    (st / "harm.md").write_text("# Harmful advice\n\n| label | when |\n|---|---|\n| harmful | it harms |\n")
    (st / "harm.yaml").write_text("name: harm\npositive: harmful\nnegative: fine\n"
                                  "predicate: the advice would physically harm someone\ninstructions: harm.md\n")
    own = [{**r, "label": {"injurious": "harmful", "safe": "fine"}[r["label"]]} for r in rows(st / "train.jsonl")]
    (st / "own.jsonl").write_text("".join(json.dumps(r) + "\n" for r in own))
    ok("train", "--data", str(st / "own.jsonl"), "--output", str(st / "clf_harm"), f"task={st / 'harm.yaml'}",
       f"backbone={tiny_encoder_dir}", "max_steps=2", "batch_size=16", "eval_every=2")
    ok("score", "--classifier", str(st / "clf_harm"), "--input", str(st / "cal_gen.jsonl"), "--output",
       str(st / "harm_scored.jsonl"))
    scored = rows(st / "harm_scored.jsonl")
    assert all("p_harmful" in r and "p_injury" not in r for r in scored)
    bad = st / "bad.jsonl"
    bad.write_text(json.dumps({**own[0], "label": "unsafe"}) + "\n")
    r = run("train", "--data", str(bad), "--output", str(st / "c2"), f"task={st / 'harm.yaml'}")
    assert r.exit_code != 0 and "line 1" in r.output and "'harmful'" in r.output


def test_the_injury_task_is_unchanged(cli_loop: Path, tmp_path: Path) -> None:
    man = json.loads((cli_loop / "clf" / "manifest.json").read_text())
    assert man["config"]["task"]["name"] == "injury" and man["config"]["task"]["score_field"] == "p_injury"
    ok("score", "--classifier", str(cli_loop / "clf"), "--input", str(cli_loop / "gen.jsonl"), "--output",
       str(tmp_path / "s.jsonl"))
    assert all("p_injury" in r and "p_unsafe" not in r for r in rows(tmp_path / "s.jsonl"))
    r = run("calibrate", "--classifier", str(cli_loop / "clf"), "--data", str(cli_loop / "lab.jsonl"), "task=bogus")
    assert r.exit_code != 0 and "unknown task 'bogus'" in r.output


def test_safetext_errors_name_the_fix(tmp_path: Path, st: Path) -> None:
    r = run("calibrate", "--classifier", str(st / "clf"), "--data", str(st / "cal.jsonl"))
    assert r.exit_code != 0 and "--clean FILE" in r.output
    r = run("label", "--input", str(st / "train_gen.jsonl"), "--output", str(tmp_path / "l.jsonl"),
            "--labeller", "simulated", "task=safetext")
    assert r.exit_code != 0 and "--labeller oracle" in r.output
    r = run("generate", "--generator", "safetext:split=nope", "--output", str(tmp_path / "g.jsonl"))
    assert r.exit_code != 0 and "split" in r.output
