"""Training: a tiny classifier trained a few steps changes its weights and lowers its loss; resume works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nines.classify.encoder import EncoderClassifier
from nines.classify.train import TrainConfig, train_classifier
from nines.config import ConfigError, load_config
from nines.data.record import Snippet

HURT = ["The blade cut deep into his arm.", "She fell and broke her leg.", "The wolf bit the boy hard.",
        "He was stabbed in the side.", "The troll crushed the knight's ribs."]
SAFE = ["They shared a quiet dinner.", "The arrow missed by a mile.", "She smiled and waved.",
        "The robot's arm snapped off.", "He read the letter twice."]


def _data(n: int = 40) -> list[Snippet]:
    rows = []
    for i in range(n):
        text = HURT[i % len(HURT)] if i % 2 == 0 else SAFE[i % len(SAFE)]
        rows.append(Snippet(f"Story {i}: the night was dark.", text, "injurious" if i % 2 == 0 else "safe"))
    return rows


def _bce(clf: EncoderClassifier, rows: list[Snippet]) -> float:
    z = clf.logits([r.prompt for r in rows], [r.completion for r in rows])
    y = np.array([r.is_injurious for r in rows], dtype=float)
    return float(np.mean(np.logaddexp(0, z) - y * z))


def test_training_changes_weights_and_lowers_loss(tiny_encoder_dir: Path) -> None:
    rows = _data()
    cfg = TrainConfig(backbone=str(tiny_encoder_dir), max_steps=50, batch_size=8, lr=3e-3, eval_every=10, dropout=0.0,
                      checkpoint_every=0, warmup_fraction=0.0, patience=0)
    torch.manual_seed(cfg.seed)
    before = EncoderClassifier.from_backbone(str(tiny_encoder_dir), dropout=cfg.dropout)
    w0 = {k: v.clone() for k, v in before.model.state_dict().items()}
    loss0 = _bce(before, rows)
    result = train_classifier(rows, [], cfg, progress=False)
    changed = [k for k, v in result.classifier.model.state_dict().items() if not torch.equal(v, w0[k])]
    assert len(changed) > 0.9 * len(w0)
    assert _bce(result.classifier, rows) < 0.7 * loss0
    assert result.steps == 50
    assert result.classifier.meta.data_fingerprint


def test_resume_after_kill_continues_from_checkpoint(tiny_encoder_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _data()
    cfg = TrainConfig(backbone=str(tiny_encoder_dir), max_steps=12, batch_size=8, lr=1e-3,
                      checkpoint_every=5, patience=0)
    full = train_classifier(rows, [], cfg, out_dir=tmp_path / "full", progress=False)

    # Simulate a kill at step 8: the optimizer raises after the checkpoint at step 5 was written.
    calls = {"n": 0}
    real_step = torch.optim.AdamW.step

    def dying_step(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt("killed")
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(rows, [], cfg, out_dir=tmp_path / "killed", progress=False)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    # Trainer's checkpoint layout: only the last complete checkpoint is kept, and it is step 5's.
    saved = sorted(p.name for p in (tmp_path / "killed" / "checkpoint").glob("checkpoint-*"))
    assert saved == ["checkpoint-5"]
    state = tmp_path / "killed" / "checkpoint" / "checkpoint-5" / "trainer_state.json"
    progress = json.loads(state.read_text())
    assert progress["global_step"] == 5
    resumed = train_classifier(rows, [], cfg, out_dir=tmp_path / "killed", progress=False)
    assert resumed.resumed_from == 5
    assert resumed.steps == 12
    # Same data order and restored optimizer state: the resumed run ends where the uninterrupted one did.
    for (k, a), b in zip(full.classifier.model.state_dict().items(), resumed.classifier.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), k
    assert not (tmp_path / "killed" / "checkpoint").exists()


def test_resume_mid_epoch_with_validation_matches_and_progress_flag(
        tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    rows, val = _data(), _data(20)[::-1]
    # 5 steps per epoch; the checkpoint at step 6 is one batch into the second epoch, and the best
    # weights and evaluation history must come back from it too.
    cfg = TrainConfig(backbone=str(tiny_encoder_dir), max_steps=10, batch_size=8, lr=3e-3, eval_every=2,
                      checkpoint_every=3, patience=0)
    full = train_classifier(rows, val, cfg, out_dir=tmp_path / "full", progress=True)
    assert "training" in capfd.readouterr().err  # the progress bar
    real_step, calls = torch.optim.AdamW.step, {"n": 0}

    def dying_step(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt("killed")
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(rows, val, cfg, out_dir=tmp_path / "killed", progress=False)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    resumed = train_classifier(rows, val, cfg, out_dir=tmp_path / "killed", progress=False)
    out = capfd.readouterr()
    # progress=False prints nothing: no training bar, and neither transformers' loading nor saving bars
    assert "training" not in out.err and "Writing" not in out.err and "Loading" not in out.err
    assert "loss" not in out.out
    assert resumed.resumed_from == 6 and resumed.steps == 10
    assert resumed.best_step == full.best_step and resumed.best_metric == full.best_metric
    assert [h["step"] for h in resumed.history] == list(range(1, 11))
    for a, b in zip(full.history, resumed.history):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], abs=1e-5) for k in a), (a, b)
    for (k, a), b in zip(full.classifier.model.state_dict().items(), resumed.classifier.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), k
    assert not (tmp_path / "killed" / "checkpoint").exists()


def test_early_stopping_restores_best_weights(tiny_encoder_dir: Path) -> None:
    rows = _data()
    # A validation set with flipped labels gets worse as training learns the task, so training must
    # stop after `patience` evaluations and hand back the weights of the first (best) evaluation.
    flipped = [Snippet(r.prompt, r.completion, "safe" if r.is_injurious else "injurious") for r in _data(20)]
    cfg = TrainConfig(backbone=str(tiny_encoder_dir), max_steps=300, batch_size=8, lr=3e-3, eval_every=10,
                      patience=3, checkpoint_every=0, dropout=0.0, warmup_fraction=0.0)
    result = train_classifier(rows, flipped, cfg, progress=False)
    assert result.steps < 300
    evals = [h for h in result.history if "val_loss" in h]
    best = min(evals, key=lambda h: (-h["val_recall_at_budget"], h["val_loss"]))
    assert result.best_step == best["step"] < result.steps
    # The returned weights are the best step's: recomputing the flipped-val loss gives the best value.
    z = result.classifier.logits([r.prompt for r in flipped], [r.completion for r in flipped])
    y = np.array([r.is_injurious for r in flipped], dtype=float)
    w = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    assert float(np.mean(w * (np.logaddexp(0, z) - y * z))) == pytest.approx(best["val_loss"], rel=1e-4)


def test_save_load_round_trip(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    clf = EncoderClassifier.from_backbone(str(tiny_encoder_dir))
    clf.threshold, clf.meta.temperature = 0.123, 2.0
    clf.save(tmp_path / "c")
    again = EncoderClassifier.load(tmp_path / "c")
    assert again.threshold == 0.123 and again.meta.temperature == 2.0
    p = ["a story"]
    c = ["it ended"]
    assert np.allclose(clf.score(p, c), again.score(p, c), atol=1e-6)


def test_bad_inputs_get_clear_errors(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    with pytest.raises(ValueError, match="both injurious and safe"):
        train_classifier([Snippet("p", "c", "safe")] * 4, [], TrainConfig(backbone=str(tiny_encoder_dir)))
    with pytest.raises(FileNotFoundError, match="not a nines classifier"):
        EncoderClassifier.load(tmp_path)
    with pytest.raises(ConfigError, match="train.lr"):
        load_config(TrainConfig, overrides=["lr=5"])
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config(TrainConfig, overrides=["learning_rate=1e-4"])
