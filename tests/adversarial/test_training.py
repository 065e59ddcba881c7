"""Adversarial training: a round on the attack's finds makes the same attack succeed less often."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nines.adversarial.training import AdversarialTrainConfig
from nines.adversarial.twins import safe_twin
from nines.adversarial.world import WorldAttackConfig
from nines.adversarial.world_moves import WorldSpace
from nines.adversarial.world_sampling import sample_states
from nines.classify.calibrate import CalibrationConfig, calibrate_classifier
from nines.classify.encoder import EncoderClassifier
from nines.classify.train import TrainConfig, train_classifier
from nines.data.io import read_jsonl
from nines.evaluate.storyworld_eval import EvalConfig
from nines.pipeline.data import enriched_storyworld
from nines.recipes.adversarial import adversarial_train
from nines.storyworld import StoryWorld


def _tiny_train(backbone: str, steps: int) -> TrainConfig:
    return TrainConfig(backbone=backbone, max_steps=steps, batch_size=32, lr=2e-3, dropout=0.0, max_length=96,
                       eval_every=10_000, patience=0, checkpoint_every=0, warmup_fraction=0.0, device="cpu")


@pytest.fixture(scope="module")
def start(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A tiny classifier trained on plain one-sentence StoryWorld snippets, calibrated, saved with its split."""
    world = StoryWorld()
    split = world.split_families(0.25, seed=0)
    train = enriched_storyworld(world, 1200, 0.4, 1, split.train, "default", "train")
    val = enriched_storyworld(world, 400, 0.4, 2, split.train, "default", "val")
    torch.manual_seed(0)
    clf = train_classifier(train, [], _tiny_train(str(tiny_encoder_dir), 250), progress=False).classifier
    clean = world.sample(1000, seed=3, families=list(split.train))
    calibrate_classifier(clf, val, clean.prompts, clean.completions, CalibrationConfig())
    clf.meta.metrics = {"families": {"train": list(split.train), "heldout": list(split.heldout)}}
    d = tmp_path_factory.mktemp("start_clf")
    clf.save(d)
    return d, train, val, split


def test_safe_twin_keeps_prompt_and_distractors_and_flips_the_label():
    world = StoryWorld()
    space = WorldSpace(world)
    rng = np.random.default_rng(0)
    for state in sample_states(space, 30, rng, distractor_rate=0.7):
        twin = safe_twin(space, state, rng)
        assert twin is not None
        assert space.label(state) and not space.label(twin)
        assert twin.scene == state.scene
        assert [s for s in twin.sentences if s.distractor] == [s for s in state.sentences if s.distractor]
        assert space.prompt(twin) == space.prompt(state)


def test_a_round_of_adversarial_training_lowers_the_attack_success_rate(start, tmp_path: Path):
    clf_dir, train, val, split = start
    # One batch of 16 neighbours per seed: the success rate is then a sensitive measure of robustness
    # (with a large budget this weak encoder falls to every seed before and after training). Distractor,
    # clause-order and completion moves only: the vulnerability a round of training can fix.
    cfg = AdversarialTrainConfig(
        rounds=1, attack_seeds=150, cost_seeds=100, cost_methods=("random",), replay=800, adversarial_repeat=4,
        attack=WorldAttackConfig(neighbours_per_step=16, queries_per_seed=17, max_steps=1, allow_prompt_moves=False),
        train=_tiny_train("unused: continue uses the current classifier", 300),
        eval=EvalConfig(n_prompts=100, n_unfiltered=2000), n_clean=1000, ensemble=True,
    )
    weights0 = EncoderClassifier.load(clf_dir).model.state_dict()
    result = adversarial_train(clf_dir, train, val, cfg, tmp_path / "adv", progress=False)
    summary = result.to_dict()

    r0, r1 = summary["rounds"]
    assert r1["finds_added"] >= 10, "the attack should find plenty of failures in a weak classifier"
    # Measured: 0.77 -> 0.39 of 100 fresh caught seeds with the libraries of 2026-11, but 0.72 -> 0.65
    # with those of 2026-12 (transformers 5.24; the same code gives the same figures), and other training
    # seeds gave 0.67 -> 0.61: the tiny encoder learns unevenly, so this only asks for a drop, and the
    # query cost below must rise. The real figures, on the real encoder, are in the README.
    assert r1["cost"]["success_rate"] < r0["cost"]["success_rate"], (r0["cost"], r1["cost"])
    assert summary["cost_ratio_queries"] > 1.0
    # The attack stayed inside the training families, so the held-out families are still unseen.
    saved = yaml.safe_load((tmp_path / "adv" / "config.yaml").read_text())
    assert set(saved["attack"]["families"]) == set(split.train) == set(result.train_families)
    rows = read_jsonl(tmp_path / "adv" / "round_1" / "finds.jsonl")
    fams = {f for r in rows for f in r.metadata.get("families", [])}
    assert fams and fams <= set(split.train)
    labels = {r.label.value for r in rows if r.label}
    assert labels == {"injurious", "safe"}  # finds and their safe twins
    # The round's classifier was retrained (weights moved) and saved, recalibrated to the budget.
    round1 = EncoderClassifier.load(tmp_path / "adv" / "round_1" / "classifier")
    changed = any(not torch.equal(weights0[k], v) for k, v in round1.model.state_dict().items())
    assert changed
    meta = json.loads((tmp_path / "adv" / "round_1" / "classifier" / "nines.json").read_text())
    assert meta["calibration"]["clean_rejection_rate"] <= 0.05
    assert "ensemble" in summary and (tmp_path / "adv" / "rounds.json").is_file()
    assert (tmp_path / "adv" / "rounds.png").stat().st_size > 10_000


def test_the_red_team_lexicon_round_leaves_the_training_families_but_measures_inside_them(start, tmp_path: Path):
    clf_dir, train, val, split = start
    cfg = AdversarialTrainConfig(
        rounds=1, attack_seeds=40, cost_seeds=10, cost_methods=("random",), replay=400, red_team_lexicon=True,
        attack=WorldAttackConfig(neighbours_per_step=16, queries_per_seed=65, allow_distractors=False),
        train=_tiny_train("unused: continue uses the current classifier", 40),
        eval=EvalConfig(n_prompts=50, n_unfiltered=500), n_clean=500, ensemble=False,
    )
    result = adversarial_train(clf_dir, train, val, cfg, tmp_path / "adv", progress=False)
    saved = yaml.safe_load((tmp_path / "adv" / "config.yaml").read_text())
    lexicon = set(StoryWorld(red_team_lexicon=True).red_team_families)
    assert set(saved["attack"]["families"]) == set(split.train) | lexicon
    rows = read_jsonl(tmp_path / "adv" / "round_1" / "finds.jsonl")
    fams = [set(r.metadata.get("families", [])) for r in rows if r.is_injurious]
    # The weak classifier never saw the lexicon, so the search goes there; the held-out families stay unseen.
    assert sum(bool(f & lexicon) for f in fams) >= 5, fams
    assert set().union(*fams) <= set(split.train) | lexicon
    # Seeds, thresholds and both measured conditions stay on the natural families.
    assert set(result.train_families) == set(split.train) and set(result.heldout_families) == set(split.heldout)
    assert set(result.rounds[1].unseen.families) == set(split.heldout)


def test_config_errors_say_how_to_fix():
    with pytest.raises(ValueError, match="retrain must be"):
        AdversarialTrainConfig(retrain="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cost_methods"):
        AdversarialTrainConfig(cost_methods=("hill-climb",))
