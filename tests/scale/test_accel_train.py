"""Training under `accelerate launch` with 2 CPU processes (gloo) matches the 1-process run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nines.classify.encoder import EncoderClassifier
from nines.data.io import write_jsonl
from nines.storyworld import StoryWorld

# Stated tolerance: the 2-process run follows the 1-process trajectory up to summation order
# (measured with these settings: validation losses 0.5510 within 3.4e-9, weights within 6.3e-5), so 1e-3 leaves a margin
# and still fails for any real difference (a wrong loss scale or an un-synchronised gradient
# moves the loss by more than 1e-2 here).
VAL_LOSS_TOL = 1e-3


def _balanced(n: int, seed: int) -> list:
    snippets = StoryWorld().sample(n, seed=seed).to_snippets()
    inj = [s for s in snippets if s.is_injurious]
    return inj + [s for s in snippets if not s.is_injurious][:len(inj)]


def _val_loss(clf_dir: Path, val: list) -> float:
    z = EncoderClassifier.load(clf_dir).logits([s.prompt for s in val], [s.completion for s in val])
    y = np.array([s.is_injurious for s in val], dtype=float)
    w = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    return float(np.mean(w * (np.logaddexp(0, z) - y * z)))


@pytest.mark.slow  # two launches of a Python process with torch, ~35 s each on 2 busy cores
def test_two_process_training_matches_one_process(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.is_file():
        accelerate = Path(shutil.which("accelerate") or "accelerate")
    write_jsonl(_balanced(3000, 7), tmp_path / "train.jsonl")
    val = _balanced(2000, 8)
    write_jsonl(val, tmp_path / "val.jsonl")
    args = ["train", "--data", str(tmp_path / "train.jsonl"), "--val", str(tmp_path / "val.jsonl"),
            f"backbone={tiny_encoder_dir}", "max_steps=80", "batch_size=16", "lr=3e-3", "dropout=0.0",
            "warmup_fraction=0", "checkpoint_every=0", "patience=0", "eval_every=40"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    one = subprocess.run([sys.executable, "-m", "nines", *args, "--output", str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([str(accelerate), "launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "nines", *args,
                          "--output", str(tmp_path / "two")], env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    # Only the main process reported and saved.
    assert two.stdout.count("trained 80 steps") == 1
    loss1, loss2 = _val_loss(tmp_path / "one", val), _val_loss(tmp_path / "two", val)
    assert loss1 < 0.68  # it learned something (an untrained head sits at log 2 = 0.693)
    assert abs(loss1 - loss2) < VAL_LOSS_TOL, (loss1, loss2)
    assert not (tmp_path / "two" / "checkpoint").exists() and not (tmp_path / "two" / "best_weights.pt").exists()
