"""The adversarial-training recipe: ``nines adversarial-train`` runs :func:`adversarial_train`.

Round 0 measures the starting classifier; each later round attacks it inside the training
families, adds the finds, retrains, recalibrates to the same rejection budget and re-measures
(the steps are :mod:`nines.adversarial.training`'s). The run folder gets ``round_K/classifier``,
``round_K/finds.jsonl``, ``rounds.json``, ``rounds.png``, ``config.yaml`` and the run manifest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from nines.adversarial.training import (
    AdversarialSummary,
    AdversarialTrainConfig,
    RoundResult,
    attack_round,
    clean_samples,
    family_split,
    measure_round,
    recalibrate,
    retrain,
    write_finds,
)
from nines.classify.base import Classifier
from nines.classify.encoder import EncoderClassifier
from nines.classify.train import data_fingerprint
from nines.config import save_config, to_dict
from nines.data.record import Snippet
from nines.manifest import FamilySplit, record_stage
from nines.oracle.base import Oracle
from nines.storyworld.world import StoryWorld


class _Rounds:
    """The state the rounds share: the current classifier, the finds so far, every round's member."""

    def __init__(self, clf_dir: Path, train: Sequence[Snippet], val: Sequence[Snippet], cfg: AdversarialTrainConfig,
                 out: Path, confirmed: Sequence[Snippet], console: Console, progress: bool,
                 oracle: Oracle | None) -> None:
        self.cfg, self.train, self.val, self.out = cfg, list(train), list(val), out
        self.con, self.progress = console, progress
        # The red-team lexicon has zero natural weight: the world samples and measures exactly as without it.
        self.world = StoryWorld(seed=cfg.world_seed, red_team_lexicon=cfg.red_team_lexicon)
        # Labels of the evaluated completions; the attack's own finds are labelled by their latent state.
        self.oracle: Oracle = oracle if oracle is not None else self.world.oracle()
        self.clf_dir, self.clf = clf_dir, EncoderClassifier.load(clf_dir)
        self.train_fams, self.heldout_fams = family_split(self.clf, self.world, cfg, clf_dir)
        if cfg.attack.families is None:
            # Attack with training families (and the red-team lexicon, when asked) only, so the
            # held-out families stay unseen by training.
            fams = tuple(self.train_fams) + self.world.red_team_families
            self.cfg = replace(cfg, attack=replace(cfg.attack, families=fams))
        self.adversarial: list[Snippet] = [s for s in confirmed if s.is_injurious is not None]
        self.members: list[EncoderClassifier] = [self.clf]

    def measure(self, clf: Classifier, round_no: int) -> RoundResult:
        return measure_round(self.world, clf, round_no, self.train_fams, self.heldout_fams, self.cfg,
                             self.oracle, self.progress)

    def round(self, round_no: int) -> RoundResult:
        """Attack, add finds, retrain, recalibrate, measure."""
        t = time.time()
        report, finds, twins = attack_round(self.world, self.clf, round_no, self.train_fams, self.cfg, self.progress)
        rdir = self.out / f"round_{round_no}"
        write_finds(finds + twins, rdir / "finds.jsonl")
        self.adversarial += finds + twins
        self.con.print(f"round {round_no}: attack found {len(finds)} failures from {report.seeds} seeds "
                       f"({report.queries} queries), plus {len(twins)} safe twins; "
                       f"training on {len(self.adversarial)} adversarial snippets")
        t_train = time.time()
        clf = retrain(self.clf_dir, self.train, self.val, self.adversarial, self.cfg, round_no,
                      rdir / "classifier", self.progress)
        info = recalibrate(clf, self.world, self.val, self.train_fams, self.cfg)
        clf.meta.metrics = {**(self.clf.meta.metrics or {}), "adversarial_round": round_no,
                            "adversarial_snippets": len(self.adversarial)}
        clf.save(rdir / "classifier")
        train_s = time.time() - t_train
        self.con.print(f"  retrained in {train_s:.0f}s; threshold {info['threshold']:.4f} "
                       f"(rejects {info['clean_rejection_rate']:.2%} of clean first samples)")
        self.clf, self.clf_dir = clf, rdir / "classifier"
        self.members.append(clf)
        res = self.measure(clf, round_no)
        res.finds_added, res.train_seconds, res.seconds = len(finds), train_s, time.time() - t
        return res

    def ensemble(self) -> RoundResult:
        """The max-ensemble of every round's classifier, recalibrated to the same rejection budget."""
        from nines.adversarial.ensemble import EnsembleClassifier

        ens = EnsembleClassifier(self.members)
        clean = clean_samples(self.world, self.train_fams, self.cfg)
        ens.calibrate_threshold(clean.prompts, clean.completions, config=self.cfg.calibrate)
        res = self.measure(ens, len(self.members) - 1)
        self.con.print(f"ensemble of {len(self.members)}: " + json.dumps(res.row()))
        return res


def adversarial_train(clf_dir: str | Path, train: Sequence[Snippet], val: Sequence[Snippet],
                      cfg: AdversarialTrainConfig, output: str | Path, confirmed: Sequence[Snippet] = (),
                      console: Console | None = None, progress: bool = True,
                      oracle: Oracle | None = None) -> AdversarialSummary:
    """Attack, retrain on the finds, recalibrate and re-measure, ``cfg.rounds`` times.

    Args:
        clf_dir: the starting classifier (its manifest's split decides the held-out families).
        train: the labelled data it was trained on.
        val: the labelled data it was calibrated on.
        cfg: rounds, attack, training and evaluation settings.
        output: the run folder.
        confirmed: human-confirmed adversarial snippets (from the review queue) added in round 1.
        console: where progress is printed.
        progress: show progress bars.
        oracle: labels the completions each round's evaluation checks (default StoryWorld's exact
            oracle); the attack's finds carry the exact labels of their latent states.

    Returns:
        Every round's figures; also written to ``rounds.json`` and plotted to ``rounds.png``.
    """
    from nines.adversarial.plots import plot_rounds

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    state = _Rounds(Path(clf_dir), train, val, cfg, out, confirmed, console or Console(), progress, oracle)
    save_config(state.cfg, out / "config.yaml")
    results = [_printed(state, state.measure(state.clf, 0))]
    for r in range(1, state.cfg.rounds + 1):
        results.append(_printed(state, state.round(r)))
    summary = AdversarialSummary(results, state.train_fams, state.heldout_fams)
    if state.cfg.ensemble and len(state.members) > 1:
        summary.ensemble = state.ensemble()
    (out / "rounds.json").write_text(json.dumps(summary.to_dict(), indent=2, default=float))
    plot_rounds(summary.to_dict(), out / "rounds.png")
    record_stage(out, "adversarial-train", to_dict(cfg),
                 families=FamilySplit(tuple(state.train_fams), tuple(state.heldout_fams)),
                 inputs={"classifier": str(clf_dir)},
                 fingerprints={"train": data_fingerprint(train), "val": data_fingerprint(val)})
    return summary


def _printed(state: _Rounds, res: RoundResult) -> RoundResult:
    state.con.print(json.dumps(res.row()))
    return res
