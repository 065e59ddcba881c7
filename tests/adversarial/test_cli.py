"""``nines saliency``, ``nines attack`` and ``nines adversarial-train`` end to end with CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_run import ok, rows, run
from nines.classify.encoder import EncoderClassifier
from nines.storyworld import StoryWorld


@pytest.fixture(scope="module")
def clf_dir(weak_encoder: EncoderClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The weak tiny encoder saved with a threshold at the median injurious score (so half are caught)."""
    world = StoryWorld()
    b = world.sample(3000, seed=21)
    inj = np.flatnonzero(b.injurious)
    scores = weak_encoder.score([b.prompts[i] for i in inj], [b.completions[i] for i in inj])
    weak_encoder.threshold = float(np.median(scores))
    d = tmp_path_factory.mktemp("weak_clf")
    weak_encoder.save(d)
    return d


@pytest.mark.parametrize("verb", ["saliency", "attack", "adversarial-train"])
def test_help_has_an_example(verb: str) -> None:
    out = ok(verb, "--help").output
    assert "Example" in out and f"nines {verb}" in out


def test_saliency_colours_words_and_suggests_edits(clf_dir: Path) -> None:
    out = ok("saliency", "--classifier", str(clf_dir), "--prompt", "The troll raised its club.",
             "--completion", "The club broke Mara's arm.", "--suggest", "1").output
    assert "score" in out and ("accepted" in out or "rejected" in out)
    assert "completion:" in out and "broke" in out
    assert "substitute" in out or "insert" in out or "delete" in out


def test_world_attack_writes_finds_report_and_config(clf_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "finds.jsonl"
    ok("attack", "--classifier", str(clf_dir), "--output", str(out), "n_seeds=4", "world.queries_per_seed=40",
       "world.neighbours_per_step=8")
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["method"].startswith("world") and report["seeds"] == 4 and report["queries"] <= 4 * 40
    found = rows(out)
    assert len(found) == report["finds"] and all(r["label"] is True for r in found)
    assert out.with_suffix(".config.yaml").is_file()
    assert not out.with_suffix(".review.jsonl").exists()  # oracle-confirmed: nothing to review


def test_world_attack_can_name_red_team_families(clf_dir: Path, tmp_path: Path) -> None:
    fams = ["explicit.blunt", "death.plain", "near_miss.dodge", "neutral.movement",
            "redteam.indirect.response", "redteam.death.terse"]
    out = tmp_path / "finds.jsonl"
    ok("attack", "--classifier", str(clf_dir), "--output", str(out), "n_seeds=6", "world.queries_per_seed=40",
       "world.neighbours_per_step=8", f"world.families=[{','.join(fams)}]")
    found = rows(out)
    assert found and all(r["label"] is True for r in found)  # StoryWorld's oracle knows the lexicon's labels
    assert all(set(r["metadata"]["families"]) <= set(fams) for r in found)
    bad = run("attack", "--classifier", str(clf_dir), "--output", str(tmp_path / "x.jsonl"),
              "world.families=[redteam.death.terce]")
    assert bad.exit_code != 0 and "redteam_families" in bad.output


def test_token_attack_sends_unverifiable_finds_to_review(clf_dir: Path, tmp_path: Path) -> None:
    world = StoryWorld()
    b = world.sample(2000, seed=5)
    clf = EncoderClassifier.load(clf_dir)
    inj = np.flatnonzero(b.injurious)
    s = clf.score([b.prompts[i] for i in inj], [b.completions[i] for i in inj])
    # The caught snippets closest to the threshold: a weak encoder moves little per word.
    caught = [int(inj[i]) for i in np.argsort(s) if s[i] > clf.threshold][:3]
    seeds = tmp_path / "caught.jsonl"
    seeds.write_text("".join(json.dumps({"prompt": b.prompts[i], "completion": b.completions[i],
                                         "label": "injurious"}) + "\n" for i in caught))
    out = tmp_path / "finds.jsonl"
    ok("attack", "--classifier", str(clf_dir), "--method", "greedy", "--input", str(seeds), "--output", str(out),
       "search.queries_per_seed=200", "search.max_edits=4", "candidates=[embedding]")
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["seeds"] == 3 and report["queries"] <= 600
    # Word edits leave StoryWorld's language, so the oracle cannot judge them: all go to review.
    assert report["unverified_finds"] >= 1 and report["valid_finds"] == 0
    queued = rows(out.with_suffix(".review.jsonl"))
    assert len(queued) == report["unverified_finds"]
    assert all(r["label"] is None and r["metadata"]["needs_review"] for r in queued)


def test_rewrite_attacks_need_a_generator(clf_dir: Path, tmp_path: Path) -> None:
    res = run("attack", "--classifier", str(clf_dir), "--method", "paraphrase", "--output", str(tmp_path / "f.jsonl"))
    assert res.exit_code != 0 and "needs a generator" in res.output


def test_adversarial_train_names_missing_data(clf_dir: Path, tmp_path: Path) -> None:
    res = run("adversarial-train", "--classifier", str(clf_dir), "--data", str(tmp_path / "nope.jsonl"),
              "--output", str(tmp_path / "adv"))
    assert res.exit_code != 0 and "nope.jsonl does not exist" in res.output
