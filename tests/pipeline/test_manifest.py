"""The run manifest: stages merge, the family split is found beside or above a classifier, old classifiers fall back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nines.manifest import MANIFEST_FILE, FamilySplit, RunManifest, family_split, read_manifest, record_stage

SPLIT = FamilySplit(("death.plain", "fall.plain"), ("death.euphemism",))


def test_split_must_be_disjoint() -> None:
    with pytest.raises(ValueError, match="both trained on and held out"):
        FamilySplit(("a", "b"), ("b",))
    assert FamilySplit.from_dict(SPLIT.to_dict()) == SPLIT


def test_record_stage_merges_stages_and_keeps_the_split(tmp_path: Path) -> None:
    record_stage(tmp_path, "train", {"epochs": 1}, families=SPLIT, fingerprints={"train": "abc"})
    man = record_stage(tmp_path, "calibrate", {"rule": "rejection_budget"}, fingerprints={"clean": "def"})
    assert man.stages == ["train", "calibrate"] and man.families == SPLIT
    again = read_manifest(tmp_path)
    assert again is not None and again.to_dict() == man.to_dict()
    assert again.config == {"train": {"epochs": 1}, "calibrate": {"rule": "rejection_budget"}}
    assert again.fingerprints == {"train": "abc", "clean": "def"}
    assert again.versions["nines"] and again.versions["python"]
    # Running a stage again replaces its config and moves it last.
    man = record_stage(tmp_path, "train", {"epochs": 2})
    assert man.stages == ["calibrate", "train"] and man.config["train"] == {"epochs": 2}


def test_family_split_lookup_order(tmp_path: Path) -> None:
    run, clf = tmp_path / "run", tmp_path / "run" / "classifier"
    clf.mkdir(parents=True)
    assert family_split(clf) is None
    # An old classifier: the split in nines.json's metrics.
    old = FamilySplit(("x",), ("y",))
    (clf / "nines.json").write_text(json.dumps({"metrics": {"families": old.to_dict()}}))
    assert family_split(clf) == old
    # The run folder's manifest names this classifier: it wins over nines.json.
    RunManifest(families=SPLIT, classifier="classifier").save(run)
    assert family_split(clf) == SPLIT and family_split(run) == SPLIT
    # ... but not a manifest above that names another folder.
    RunManifest(families=SPLIT, classifier="other").save(run)
    assert family_split(clf) == old
    # The classifier's own manifest wins over everything.
    own = FamilySplit(("z",))
    RunManifest(families=own).save(clf)
    assert family_split(clf) == own


def test_family_split_from_a_loaded_classifier_without_a_folder() -> None:
    class Meta:
        metrics = {"families": {"train": ["a"], "heldout": ["b"]}}

    class Clf:
        meta = Meta()

    assert family_split(None, Clf()) == FamilySplit(("a",), ("b",))
    Meta.metrics = {}
    assert family_split(None, Clf()) is None


def test_a_broken_manifest_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="rerun the stage"):
        read_manifest(tmp_path)
