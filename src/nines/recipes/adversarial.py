"""The adversarial-training recipe: ``nines adversarial-train`` runs :func:`adversarial_train`.

The rounds are :class:`nines.adversarial.training.AdversarialTrainer`'s; this entry point adds
the run manifest (the family split the rounds kept held out, data fingerprints, config, versions)
to the output folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from nines.adversarial.training import AdversarialTrainConfig, AdversarialTrainer
from nines.classify.train import data_fingerprint
from nines.config import to_dict
from nines.data.record import Snippet
from nines.manifest import FamilySplit, record_stage


def adversarial_train(clf_dir: str | Path, train: Sequence[Snippet], val: Sequence[Snippet],
                      cfg: AdversarialTrainConfig, output: str | Path, confirmed: Sequence[Snippet] = (),
                      console: Console | None = None, progress: bool = True) -> dict[str, Any]:
    """Attack, retrain on the finds, recalibrate and re-measure, ``cfg.rounds`` times; returns the rounds' summary.

    Args:
        clf_dir: the starting classifier (its manifest's split decides the held-out families).
        train: the labelled data it was trained on.
        val: the labelled data it was calibrated on.
        cfg: rounds, attack, training and evaluation settings.
        output: the run folder.
        confirmed: human-confirmed adversarial snippets added in round 1.
        console: where progress is printed.
        progress: show progress bars.
    """
    trainer = AdversarialTrainer(clf_dir, train, val, cfg, output, confirmed=confirmed, console=console,
                                 progress=progress)
    summary = trainer.run()
    record_stage(output, "adversarial-train", to_dict(cfg),
                 families=FamilySplit(tuple(trainer.train_fams), tuple(trainer.heldout_fams)),
                 inputs={"classifier": str(clf_dir)},
                 fingerprints={"train": data_fingerprint(train), "val": data_fingerprint(val)})
    return summary
