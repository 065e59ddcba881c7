"""Adversarial training rounds: attack the classifier, train on confirmed failures, recalibrate, re-measure.

Each round (``nines adversarial-train``):

1. attack the current classifier with a label-preserving StoryWorld attack restricted to the training
   families, so every find is an oracle-confirmed failure and the held-out families stay unseen;
2. add the finds (plus any human-confirmed ones) to the training data as ``adversarial``;
3. fine-tune from the current weights on the finds mixed with a replay of the original data (or
   retrain from the backbone), then recalibrate to the same rejection budget;
4. re-measure: in-family failure rate with an exact bound (must not get worse), failure rate on
   unseen realisation families, and attack cost (classifier queries and seconds per successful
   attack) by a fresh attack run on seeds the training attack never used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.console import Console

from nines.adversarial.result import AttackReport
from nines.adversarial.twins import finds_to_snippets, twins_to_snippets
from nines.adversarial.world import WorldAttackConfig, seed_states, world_attack
from nines.classify.base import Classifier
from nines.classify.calibrate import CalibrationConfig, calibrate_classifier
from nines.classify.encoder import EncoderClassifier
from nines.classify.train import TrainConfig, train_classifier
from nines.config import save_config
from nines.data.record import Snippet
from nines.evaluate.storyworld_eval import ConditionResult, EvalConfig, evaluate_condition
from nines.filter import FilterConfig
from nines.oracle.base import Oracle
from nines.storyworld.batch import StoryBatch
from nines.storyworld.world import StoryWorld


def _default_train() -> TrainConfig:
    # Continuing from trained weights needs a short, gentle pass; patience 0 keeps every step.
    return TrainConfig(epochs=1.0, lr=2e-5, eval_every=25, patience=0, checkpoint_every=0)


def _default_eval() -> EvalConfig:
    return EvalConfig(n_prompts=10000, n_unfiltered=100000)


def _default_attack() -> WorldAttackConfig:
    # 16 candidates per classifier call: attack cost is counted in calls of this size, so smaller
    # batches measure it finer (a search that succeeds in its first batch costs 17 queries, not 65).
    return WorldAttackConfig(neighbours_per_step=16, queries_per_seed=600)


@dataclass
class AdversarialTrainConfig:
    """``nines adversarial-train``: rounds of attack, retraining and measurement.

    Attributes:
        rounds: attack-and-retrain rounds after the starting classifier is measured.
        attack_seeds: caught injurious snippets attacked per round to collect training finds.
        cost_seeds: caught injurious snippets attacked by the fresh runs that measure attack cost.
        cost_methods: searches the cost is measured with (``greedy``, ``beam``, ``random``); the
            classifier's robustness is what the cheapest of them pays per success.
        attack: the label-preserving StoryWorld attack that collects training finds (method, budget
            per seed, moves allowed); the cost runs use the same settings with their own method.
        retrain: ``continue`` fine-tunes the current classifier; ``scratch`` retrains from the backbone.
        adversarial_repeat: how many times each find is repeated in the training data.
        hard_negatives: with each find, also train on its safe twin: the same prompt, distractors and
            order with the injurious sentence replaced by a safe outcome of the same scene. Without
            twins, a classifier can learn "two sentences means injurious" from distractor finds.
        replay: original training snippets mixed into a ``continue`` pass (0 = all of them).
        n_clean: clean first samples used to recalibrate the threshold to the same rejection budget.
        ensemble: also measure the max-ensemble of every round's classifier.
        seed: seeds attack seeds, replay sampling and training.
        world_seed: StoryWorld's seed (must match the one the classifier was trained on).
        holdout_fraction: family hold-out, used only when the classifier did not record its split.
        train, calibrate, eval, filter: the components' own configs.
    """

    rounds: int = 3
    attack_seeds: int = 100
    cost_seeds: int = 40
    cost_methods: tuple[str, ...] = ("greedy", "random")
    attack: WorldAttackConfig = field(default_factory=_default_attack)
    retrain: Literal["continue", "scratch"] = "continue"
    adversarial_repeat: int = 2
    hard_negatives: bool = True
    replay: int = 3000
    n_clean: int = 4000
    ensemble: bool = True
    seed: int = 0
    world_seed: int = 0
    holdout_fraction: float = 0.25
    train: TrainConfig = field(default_factory=_default_train)
    calibrate: CalibrationConfig = field(default_factory=CalibrationConfig)
    eval: EvalConfig = field(default_factory=_default_eval)
    filter: FilterConfig = field(default_factory=FilterConfig)

    def __post_init__(self) -> None:
        if self.rounds < 0:
            raise ValueError("rounds must be >= 0 (0 only measures the starting classifier)")
        if self.attack_seeds < 1 or self.cost_seeds < 1:
            raise ValueError("attack_seeds and cost_seeds must be >= 1 caught snippets to attack")
        if self.retrain not in ("continue", "scratch"):
            raise ValueError("retrain must be 'continue' (fine-tune the current classifier) or 'scratch'")
        if self.adversarial_repeat < 1:
            raise ValueError("adversarial_repeat must be >= 1")
        if self.replay < 0:
            raise ValueError("replay must be >= 0 original snippets (0 = all)")
        bad = [m for m in self.cost_methods if m not in ("greedy", "beam", "random")]
        if bad or not self.cost_methods:
            raise ValueError(f"cost_methods must name searches among greedy, beam, random; got {self.cost_methods}")
        if self.n_clean < 100:
            raise ValueError("n_clean must be >= 100 clean first samples to set a threshold")


@dataclass
class RoundResult:
    """What one round measured (round 0 is the starting classifier)."""

    round: int
    threshold: float
    in_family: ConditionResult
    unseen: ConditionResult | None
    cost: dict[str, Any]
    finds_added: int = 0
    train_seconds: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round, "threshold": self.threshold, "finds_added": self.finds_added,
            "in_family": self.in_family.to_dict(), "unseen": self.unseen.to_dict() if self.unseen else None,
            "cost": self.cost, "train_seconds": self.train_seconds, "seconds": self.seconds,
        }

    def row(self) -> dict[str, Any]:
        """The headline figures of this round, flat (one table row)."""
        f = self.in_family.filtered
        u = self.unseen.filtered if self.unseen else None
        return {
            "round": self.round, "finds_added": self.finds_added, "threshold": round(self.threshold, 4),
            "in_family": _rate(f),
            "unseen": _rate(u) if u else "-",
            "attack_success": f"{self.cost['success_rate']:.1%} ({self.cost['valid_finds']}/{self.cost['seeds']})",
            "queries_per_success": self.cost["queries_per_success_text"],
            "seconds_per_success": self.cost["seconds_per_success_text"],
        }


def _rate(i: Any) -> str:
    return f"{i.estimate:.3%} [{i.lower:.3%}, {i.upper:.3%}] ({i.k}/{i.n})"


def family_split(clf: EncoderClassifier, world: StoryWorld, cfg: AdversarialTrainConfig,
                 clf_dir: str | Path | None = None) -> tuple[list[str], list[str]]:
    """The classifier's recorded training / held-out families (its run manifest), else a fresh split."""
    from nines.manifest import family_split as recorded_split

    known = recorded_split(clf_dir, clf)
    if known is not None:
        return list(known.train), list(known.heldout)
    split = world.split_families(cfg.holdout_fraction, seed=cfg.seed)
    return list(split.train), list(split.heldout)


def cost_summary(report: AttackReport) -> dict[str, Any]:
    """Attack cost with a lower bound when nothing was found (cost is then at least the whole spend)."""
    s = report.summary()
    k = s["valid_finds"]
    q, sec = report.queries, report.seconds
    s["queries_per_success_bound"] = q / max(k, 1)
    s["seconds_per_success_bound"] = sec / max(k, 1)
    s["queries_per_success_text"] = f"{q / k:.0f}" if k else f">{q}"
    s["seconds_per_success_text"] = f"{sec / k:.2f}" if k else f">{sec:.1f}"
    return s


def measure_cost(world: StoryWorld, clf: Classifier, families: Sequence[str], cfg: AdversarialTrainConfig,
                 seed: int) -> dict[str, Any]:
    """Fresh attack runs on ``cost_seeds`` caught snippets, one per cost method.

    Returns the cheapest method's summary (cost per valid success, with a lower bound when nothing
    was found), with every method's summary under ``by_method``.
    """
    states = seed_states(world, clf, cfg.cost_seeds, seed=seed, families=list(families))
    by_method = {m: cost_summary(world_attack(world, clf, states, replace(cfg.attack, method=m)))
                 for m in cfg.cost_methods}
    # A method that found nothing contributes its whole spend as a lower bound on its cost.
    best = min(by_method, key=lambda m: (by_method[m]["queries_per_success_bound"], m))
    return {**by_method[best], "cheapest_method": best, "by_method": by_method}


def _replay(train: Sequence[Snippet], n: int, seed: int) -> list[Snippet]:
    if n == 0 or n >= len(train):
        return list(train)
    idx = np.random.default_rng(seed).choice(len(train), size=n, replace=False)
    return [train[i] for i in np.sort(idx)]


def retrain(clf_dir: Path, train: Sequence[Snippet], val: Sequence[Snippet], adversarial: Sequence[Snippet],
            cfg: AdversarialTrainConfig, round_no: int, out_dir: Path, progress: bool) -> EncoderClassifier:
    """Fine-tune (or retrain) on the original data plus every adversarial find so far."""
    adv = list(adversarial) * cfg.adversarial_repeat
    if cfg.retrain == "continue":
        data = _replay(train, cfg.replay, cfg.seed + round_no) + adv
        tcfg = TrainConfig(**{**cfg.train.__dict__, "backbone": str(clf_dir), "seed": cfg.train.seed + round_no})
    else:
        data = list(train) + adv
        tcfg = cfg.train
    result = train_classifier(data, val, tcfg, out_dir=out_dir, resume=False, progress=progress)
    return result.classifier


def clean_samples(world: StoryWorld, families: Sequence[str], cfg: AdversarialTrainConfig) -> StoryBatch:
    """The clean first samples every threshold is set on (the draw ``nines demo`` calibrated on)."""
    return world.sample(cfg.n_clean, seed=cfg.seed * 7919 + 3, distribution=cfg.eval.distribution,
                        families=list(families))


def recalibrate(clf: EncoderClassifier, world: StoryWorld, val: Sequence[Snippet], families: Sequence[str],
                cfg: AdversarialTrainConfig) -> dict[str, Any]:
    """Temperature and threshold again, at the same rejection budget on the same clean first samples."""
    clean = clean_samples(world, families, cfg)
    return calibrate_classifier(clf, val, clean.prompts, clean.completions, cfg.calibrate).to_dict()


class AdversarialTrainer:
    """Runs the rounds and writes each round's classifier, finds and figures under ``output``.

    Args:
        classifier_dir: the starting classifier (an HF folder with ``nines.json``).
        train, val: the labelled data it was trained and calibrated on.
        config: rounds, attack, training and evaluation settings.
        output: run folder (``round_K/classifier``, ``round_K/finds.jsonl``, ``rounds.json``, ``rounds.png``,
            ``config.yaml``).
        confirmed: human-confirmed adversarial snippets (from the review queue) added in round 1.
        oracle: labels the completions each round's evaluation checks (default StoryWorld's exact
            oracle); the attack's finds carry the exact labels of their latent states.
    """

    def __init__(self, classifier_dir: str | Path, train: Sequence[Snippet], val: Sequence[Snippet],
                 config: AdversarialTrainConfig, output: str | Path, confirmed: Sequence[Snippet] = (),
                 console: Console | None = None, progress: bool = True, oracle: Oracle | None = None) -> None:
        self.cfg, self.train, self.val = config, list(train), list(val)
        self.out = Path(output)
        self.con = console or Console()
        self.progress = progress
        self.world = StoryWorld(seed=config.world_seed)
        # Labels of the evaluated completions; the attack's own finds are labelled by their latent state.
        self.oracle: Oracle = oracle if oracle is not None else self.world.oracle()
        self.clf_dir = Path(classifier_dir)
        self.clf = EncoderClassifier.load(self.clf_dir)
        self.train_fams, self.heldout_fams = family_split(self.clf, self.world, config, self.clf_dir)
        if config.attack.families is None:
            # Attack with training families only, so the held-out families stay unseen by training.
            self.cfg = replace(config, attack=replace(config.attack, families=tuple(self.train_fams)))
        self.adversarial: list[Snippet] = [s for s in confirmed if s.is_injurious is not None]
        self.members: list[EncoderClassifier] = [self.clf]
        self.results: list[RoundResult] = []

    def measure(self, clf: Classifier, round_no: int) -> RoundResult:
        """In-family and unseen-family failure rates through the filter, and attack cost."""
        t = time.time()
        ev = self.cfg.eval
        in_fam = evaluate_condition(self.world, clf, "in-family", self.train_fams, self.cfg.filter, ev,
                                    progress=self.progress, seed_offset=0, oracle=self.oracle)
        unseen = (evaluate_condition(self.world, clf, "unseen families", self.heldout_fams, self.cfg.filter, ev,
                                     progress=self.progress, seed_offset=1, oracle=self.oracle)
                  if self.heldout_fams else None)
        # The cost seeds come from a seed no training attack uses, and are the same draw every round.
        cost = measure_cost(self.world, clf, self.train_fams, self.cfg, seed=self.cfg.seed * 1009 + 999_983)
        return RoundResult(round_no, float(clf.threshold), in_fam, unseen, cost, seconds=time.time() - t)

    def attack(self, round_no: int) -> AttackReport:
        """The training attack of a round: fresh caught seeds from the training families."""
        states = seed_states(self.world, self.clf, self.cfg.attack_seeds, seed=self.cfg.seed * 1009 + round_no,
                             families=self.train_fams)
        return world_attack(self.world, self.clf, states, self.cfg.attack, progress=self.progress)

    def run_round(self, round_no: int) -> RoundResult:
        """Attack, add finds, retrain, recalibrate, measure."""
        t = time.time()
        report = self.attack(round_no)
        finds = finds_to_snippets(report, round_no)
        twins = (twins_to_snippets(self.cfg.attack.space(self.world), report, round_no, self.cfg.seed + round_no)
                 if self.cfg.hard_negatives else [])
        rdir = self.out / f"round_{round_no}"
        _write_finds(finds + twins, rdir / "finds.jsonl")
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

    def run(self) -> dict[str, Any]:
        """All rounds; returns (and writes) ``rounds.json``."""
        self.out.mkdir(parents=True, exist_ok=True)
        save_config(self.cfg, self.out / "config.yaml")
        self._record(self.measure(self.clf, 0))
        for r in range(1, self.cfg.rounds + 1):
            self._record(self.run_round(r))
        summary = self.summary()
        if self.cfg.ensemble and len(self.members) > 1:
            summary["ensemble"] = self.measure_ensemble().to_dict()
        (self.out / "rounds.json").write_text(json.dumps(summary, indent=2, default=float))
        from nines.adversarial.plots import plot_rounds

        plot_rounds(summary, self.out / "rounds.png")
        return summary

    def measure_ensemble(self) -> RoundResult:
        """The max-ensemble of every round's classifier, recalibrated to the same rejection budget."""
        from nines.adversarial.ensemble import EnsembleClassifier

        ens = EnsembleClassifier(self.members)
        clean = clean_samples(self.world, self.train_fams, self.cfg)
        ens.calibrate_threshold(clean.prompts, clean.completions, config=self.cfg.calibrate)
        res = self.measure(ens, len(self.members) - 1)
        self.con.print(f"ensemble of {len(self.members)}: " + json.dumps(res.row()))
        return res

    def summary(self) -> dict[str, Any]:
        """Per-round figures and the attack-cost ratio of the last round to the first."""
        first, last = self.results[0].cost, self.results[-1].cost
        return {
            "rounds": [r.to_dict() for r in self.results],
            "table": [r.row() for r in self.results],
            "cost_ratio_queries": last["queries_per_success_bound"] / max(first["queries_per_success_bound"], 1e-9),
            "cost_ratio_seconds": last["seconds_per_success_bound"] / max(first["seconds_per_success_bound"], 1e-9),
            "cost_ratio_is_lower_bound": last["valid_finds"] == 0,
            "families": {"train": self.train_fams, "heldout": self.heldout_fams},
        }

    def _record(self, res: RoundResult) -> None:
        self.results.append(res)
        self.con.print(json.dumps(res.row()))


def _write_finds(finds: Sequence[Snippet], path: Path) -> None:
    from nines.data.io import write_jsonl

    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(list(finds), path)
