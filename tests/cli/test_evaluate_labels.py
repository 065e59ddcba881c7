"""``nines evaluate --labels`` and ``--plan`` end to end through the CLI, on JSONL and on a SQLite store.

StoryWorld supplies the generator and, in these tests only, the labels (its exact oracle): the labels
path itself never asks it for truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import ok, rows, run


def test_labels_jsonl_end_to_end(cli_loop: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    r = ok("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", str(cli_loop / "lab.jsonl"),
           "--generator", "storyworld", "--output", str(out), "labels.samples_per_prompt=3", "labels.target=0.05")
    s = json.loads((out / "summary.json").read_text())
    lab = rows(cli_loop / "lab.jsonl")
    assert s["kind"] == "labels" and s["source"]["labels"] == len(lab) == 600
    assert s["source"]["failures"] == sum(x["label"] == "injurious" for x in lab)
    rel = s["reliability"]
    assert rel["ran"] and rel["n_prompts"] == 300 and rel["acceptance_from"] == "generator"
    assert rel["samples_per_prompt"] == pytest.approx(2 + 3)  # two labelled rows per prompt plus three samples
    assert rel["threshold"] == pytest.approx(json.loads((cli_loop / "clf" / "nines.json").read_text())["threshold"])
    assert rel["verdict"]["status"] in ("estimate", "bound", "too_few") and rel["verdict"]["reason"]
    if rel["verdict"]["status"] == "too_few":
        assert rel["verdict"]["more_labels"] is None or rel["verdict"]["more_labels"] > 0
    assert s["plan"] is None and not s["winrate"]["present"] and "comparisons" in s["winrate"]["reason"]
    assert "understanding" in s and s["understanding"]["reason" if not s["understanding"]["ran"] else "n_failures"] is not None
    html = (out / "report.html").read_text()
    assert "reweighted from unfiltered labels" in html and "No simulated oracle" in html and "<img" in html
    assert "filtered failure rate" in r.output and (out / "config.yaml").is_file()


def test_labels_from_a_store_dataset(cli_loop: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    ok("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", f"sqlite:///{cli_loop / 'nines.db'}#demo",
       "--output", str(out))
    s = json.loads((out / "summary.json").read_text())
    assert s["source"]["kind"] == "store" and s["source"]["dataset"] == "demo" and s["source"]["labels"] == 600
    rel = s["reliability"]
    assert rel["ran"] and rel["acceptance_from"] == "labelled rows only" and "pooled" in rel["notes"][0]
    assert not s["understanding"]["ran"] and "generator" in s["understanding"]["reason"]


def test_plan_import_label_and_evaluate(cli_loop: Path, tmp_path: Path) -> None:
    from nines.data.store import Store
    from nines.generate.base import Prompt
    from nines.storyworld import StoryWorld

    world = StoryWorld()
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt_id": p.id, "prompt": p.text}) + "\n"
                               for p in world.sample_prompts(80, seed=5)))
    db = tmp_path / "n.db"
    plan_dir = tmp_path / "plan"
    ok("evaluate", "--classifier", str(cli_loop / "clf"), "--plan", "40", "--generator", "storyworld",
       "--prompts", str(prompts), "--store", f"sqlite:///{db}#plan1", "--output", str(plan_dir),
       "plan.design=stratified", "plan.pool_size=4")
    planned = rows(plan_dir / "plan.jsonl")
    assert len(planned) == 40 and all(0 < r["inclusion_probability"] <= 1 and r["prompt_id"] for r in planned)
    info = json.loads((plan_dir / "plan.json").read_text())
    assert info["store"]["rows"] == 40 and info["store"]["queue"] == "plan1"
    pairs = rows(plan_dir / "pairs.jsonl")
    assert info["store"]["pair_tasks"] == len(pairs)
    # nothing labelled yet: the report says so instead of a number
    ok("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", f"sqlite:///{db}#plan1", "--output",
       str(tmp_path / "empty"))
    s = json.loads((tmp_path / "empty" / "summary.json").read_text())
    assert not s["reliability"]["ran"] and "40 rows await a label" in s["reliability"]["reason"] and s["plan"] is None
    # label the plan in the store (StoryWorld's oracle stands in for people), compare the pairs
    with Store(db) as store:
        for sn in store.query(dataset="plan1"):
            y = world.label(Prompt(sn.prompt_id, sn.prompt), sn.completion)
            store.set_label(sn.id, "injurious" if y else "safe", "oracle")
    comps = tmp_path / "comparisons.jsonl"
    comps.write_text("".join(json.dumps({**p, "outcome": 1.0}) + "\n" for p in pairs))
    out = tmp_path / "ev"
    ok("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", f"sqlite:///{db}#plan1", "--comparisons",
       str(comps), "--output", str(out))
    s = json.loads((out / "summary.json").read_text())
    plan = s["plan"]
    assert plan["design"] == "stratified" and plan["labels"] == 40 and plan["unlabelled"] == 0
    assert plan["verdict"]["status"] in ("estimate", "bound", "too_few")
    assert not s["reliability"]["ran"]  # plan rows are not random unfiltered samples
    assert pairs, "the classifier rejects some first samples, so the coupled design queues pairs"
    meta = pairs[0]["meta"]
    assert meta["plan"] == "plan1" and plan["plan"] == "plan1"
    w = s["winrate"]["plans"]["plan1"]
    k, m = meta["plan_accepted_first"], meta["plan_pairs"]
    assert w["status"] == "estimate" and w["estimate"] == pytest.approx((0.5 * k + m) / (k + m))
    assert "labelling plan" in (out / "report.html").read_text()


def test_a_dataset_labelled_for_another_task_is_refused(cli_loop: Path, tmp_path: Path) -> None:
    import shutil

    from nines.data.record import Label, Snippet
    from nines.data.store import Store

    db = tmp_path / "tasks.db"
    shutil.copy(cli_loop / "nines.db", db)
    with Store(f"sqlite:///{db}") as store:
        store.bind_dataset_task("advice", "safetext")
        store.add([Snippet("If you see a mushroom,", "taste it.", label=Label.INJURIOUS)], dataset="advice")
    # The injury classifier must not read safetext's positives as injuries: both are stored as the positive value.
    r = run("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", f"sqlite:///{db}#advice",
            "--output", str(tmp_path / "o"))
    assert r.exit_code != 0 and "labelled for task 'safetext', not 'injury'" in r.output
    assert "Traceback" not in r.output


def test_labels_path_errors_are_one_clear_line(cli_loop: Path, tmp_path: Path) -> None:
    clf = str(cli_loop / "clf")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b", "label": "safe"}\n{"prompt": "a", "completion": "b", "label": "maybe"}\n')
    r = run("evaluate", "--classifier", clf, "--labels", str(bad), "--output", str(tmp_path / "o"))
    assert r.exit_code != 0 and "bad.jsonl, line 2" in r.output and '"label"' in r.output
    assert "Traceback" not in r.output
    r = run("evaluate", "--classifier", clf, "--plan", "10", "--output", str(tmp_path / "o"))
    assert r.exit_code != 0 and "--generator" in r.output
    r = run("evaluate", "--classifier", clf, "--labels", f"sqlite:///{tmp_path / 'x.db'}", "--output", str(tmp_path / "o"))
    assert r.exit_code != 0 and "#DATASET" in r.output
    r = run("evaluate", "--classifier", clf, "--generator", "storyworld", "--output", str(tmp_path / "o"))
    assert r.exit_code != 0 and "--labels" in r.output


def test_labels_use_the_tasks_label_names(cli_loop: Path, tmp_path: Path) -> None:
    lab = rows(cli_loop / "lab.jsonl")[:200]
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text("".join(json.dumps({**r, "label": {"injurious": "unsafe", "safe": "ok"}[r["label"]]}) + "\n"
                               for r in lab))
    out = tmp_path / "ev"
    ok("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", str(renamed), "--output", str(out),
       "task.positive=unsafe", "task.negative=ok")
    s = json.loads((out / "summary.json").read_text())
    assert s["task"] == "injury" and s["source"]["labels"] == 200
    assert s["source"]["failures"] == sum(r["label"] == "injurious" for r in lab)
    r = run("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", str(renamed), "--output", str(out))
    assert r.exit_code != 0 and "renamed.jsonl, line 1" in r.output


def test_labels_with_a_real_generator_and_no_storyworld(cli_loop: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    """A Hugging Face generator resamples the labelled prompts and continues the accepted failures."""
    words = ["the cat sat on the mat", "a dog ran", "the big dog was small", "it sat and then ran"]
    labelled = tmp_path / "mine.jsonl"
    labelled.write_text("".join(
        json.dumps({"prompt_id": f"p{i % 16}", "prompt": f"{words[i % 4]} and {words[(i % 16) // 4]}",
                    "completion": words[(i + 1) % 4], "label": "injurious" if i % 2 else "safe"}) + "\n"
        for i in range(48)))  # only the tiny model's words: its tokenizer has no unknown token
    out = tmp_path / "ev"
    ok("evaluate", "--classifier", str(cli_loop / "clf"), "--labels", str(labelled), "--generator",
       f"hf:{tiny_model_dir}", "--output", str(out), "labels.samples_per_prompt=3",
       "labels.understanding_continuations=2")
    s = json.loads((out / "summary.json").read_text())
    rel = s["reliability"]
    assert rel["ran"] and rel["n_prompts"] == 16 and rel["samples_per_prompt"] == pytest.approx(3 + 3)
    u = s["understanding"]
    assert u["generator"] and u["judge"] == "the classifier at its threshold"
    accepted_failures = rel["at_threshold"]["n_failures"]
    assert u["ran"] == (accepted_failures > 0)
    if u["ran"]:
        assert u["n_failures"] == accepted_failures and u["egregious"] + u["subtle"] == u["n_failures"]
