"""The CLI reads the classifier's family split from its manifest, as the demo's recipes do.

`nines calibrate` sets the threshold on clean samples of the TRAINING families only. Before the
recipes, the CLI drew its StoryWorld clean samples from every family while the demo drew them from
the training families, so on the CLI path the held-out families leaked into the threshold.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nines.cli.main import cli
from nines.manifest import FamilySplit, RunManifest, read_manifest
from nines.storyworld import StoryWorld


def _record_draws(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, list[str]]]:
    """Wrap StoryWorld.sample: each call's ``families`` argument and the families it returned."""
    draws: list[tuple[Any, list[str]]] = []
    sample = StoryWorld.sample

    def recording(self: StoryWorld, n: int, *args: Any, **kwargs: Any) -> Any:
        batch = sample(self, n, *args, **kwargs)
        draws.append((kwargs.get("families"), batch.family_names))
        return batch

    monkeypatch.setattr(StoryWorld, "sample", recording)
    return draws


@pytest.mark.parametrize("where", ["manifest", "old nines.json"])
def test_clean_samples_come_from_the_training_families(cli_loop: Path, tmp_path: Path, where: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    split = StoryWorld().split_families(0.25, seed=0)
    fams = FamilySplit(tuple(split.train), tuple(split.heldout))
    clf = tmp_path / "clf"
    shutil.copytree(cli_loop / "clf", clf)
    if where == "manifest":
        RunManifest(families=fams).save(clf)
    else:  # a classifier saved before manifests: the split in nines.json
        meta = json.loads((clf / "nines.json").read_text())
        meta["metrics"] = {"families": fams.to_dict()}
        (clf / "nines.json").write_text(json.dumps(meta))
    draws = _record_draws(monkeypatch)
    res = CliRunner().invoke(cli, ["calibrate", "--classifier", str(clf), "--data", str(cli_loop / "lab.jsonl"),
                                   "--clean-n", "400", "rejection_budget=0.1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert len(draws) == 1
    asked, drawn = draws[0]
    assert asked is not None and set(asked) == set(fams.train)
    assert len(drawn) == 400 and set(drawn) <= set(fams.train) and not set(drawn) & set(fams.heldout)
    man = read_manifest(clf)
    assert man is not None and man.config["calibrate"]["clean"]["families"] == "train"
    assert man.fingerprints["clean"] and man.fingerprints["calibration_data"]
    if where == "manifest":
        assert man.families == fams  # calibrating keeps the split the classifier was trained with


def test_without_a_recorded_split_every_family_is_used(cli_loop: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    clf = tmp_path / "clf"
    shutil.copytree(cli_loop / "clf", clf)
    (clf / "manifest.json").unlink(missing_ok=True)
    draws = _record_draws(monkeypatch)
    res = CliRunner().invoke(cli, ["calibrate", "--classifier", str(clf), "--data", str(cli_loop / "lab.jsonl"),
                                   "--clean-n", "300"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert [asked for asked, _ in draws] == [None]
    assert json.loads((clf / "manifest.json").read_text())["config"]["calibrate"]["clean"]["families"] == "all"


def test_evaluate_takes_its_conditions_from_the_manifest(cli_loop: Path, tmp_path: Path) -> None:
    split = StoryWorld().split_families(0.25, seed=0)
    fams = FamilySplit(tuple(split.train), tuple(split.heldout))
    clf = tmp_path / "clf"
    shutil.copytree(cli_loop / "clf", clf)
    RunManifest(families=fams).save(clf)
    res = CliRunner().invoke(cli, ["evaluate", "--classifier", str(clf), "--output", str(tmp_path / "ev"),
                                   "eval.n_prompts=30", "eval.n_unfiltered=500", "measurements=false"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    conds = json.loads((tmp_path / "ev" / "summary.json").read_text())["conditions"]
    assert list(conds) == ["in-family", "unseen families"]
    assert set(conds["in-family"]["families"]) == set(fams.train)
    assert set(conds["unseen families"]["families"]) == set(fams.heldout)
    man = read_manifest(tmp_path / "ev")
    assert man is not None and man.families == fams and man.inputs["classifier"] == str(clf)
    assert man.config["evaluate"]["measurements"] is False
