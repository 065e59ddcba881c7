"""The train recipe: fine-tune the classifier and record what it was trained on in the folder's manifest.

``nines demo`` and ``nines train`` both call :func:`train`; the classifier folder's
``manifest.json`` then holds the training config, the data fingerprints and (when the caller
knows it) the family split, which calibration, evaluation, adversarial training and distillation
read back (:func:`nines.manifest.family_split`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from nines.classify.train import TrainConfig, TrainResult, data_fingerprint, train_classifier
from nines.config import to_dict
from nines.data.record import Snippet
from nines.manifest import FamilySplit, RunManifest


def train(rows: Sequence[Snippet], val: Sequence[Snippet], cfg: TrainConfig, out_dir: str | Path, *,
          resume: bool = True, progress: bool = True, families: FamilySplit | None = None,
          inputs: Mapping[str, str] | None = None) -> TrainResult:
    """Train on ``rows`` (early stopping on ``val``), checkpointing to ``out_dir``; the caller saves the classifier.

    Args:
        rows: labelled training snippets.
        val: labelled validation snippets (may be empty).
        cfg: the training config.
        out_dir: the classifier folder (checkpoints, then ``manifest.json``).
        resume: continue from a checkpoint a killed run left in ``out_dir``.
        progress: show a progress bar.
        families: the StoryWorld family split the rows were drawn from, if any.
        inputs: the files the rows came from, by name, for the manifest.
    """
    result = train_classifier(rows, val, cfg, out_dir=out_dir, resume=resume, progress=progress)
    if result.main_process:  # under accelerate only the main process writes
        # A fresh manifest: a split or fingerprints left by an earlier run in this folder no longer hold.
        RunManifest(families=families, config={"train": to_dict(cfg)}, inputs=dict(inputs or {}),
                    fingerprints={"train": data_fingerprint(rows), "val": data_fingerprint(val)},
                    stages=["train"]).save(out_dir)
    return result
