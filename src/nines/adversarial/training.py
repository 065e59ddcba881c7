"""The steps of adversarial training: attack, train on confirmed failures, recalibrate, re-measure.

The rounds themselves are a recipe (:mod:`nines.recipes.adversarial`, ``nines adversarial-train``);
each round:

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

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nines.adversarial.result import AttackReport
from nines.adversarial.twins import finds_to_snippets, twins_to_snippets
from nines.adversarial.world import WorldAttackConfig, seed_states, world_attack
from nines.classify.base import Classifier
from nines.classify.calibrate import CalibrationConfig, calibrate_classifier
from nines.classify.encoder import EncoderClassifier
from nines.classify.train import TrainConfig, train_classifier
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
        red_team_lexicon: let the training attack leave the training families: its moves may also
            use the red-team lexicon (:mod:`nines.storyworld.redteam_families`), phrasings the
            world never writes on its own, so finds can be new phrasings and not only
            recombinations. Seeds, thresholds and every measurement stay on the natural families.
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
    red_team_lexicon: bool = False
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


@dataclass
class AdversarialSummary:
    """Every round's figures (round 0 is the starting classifier), and the attack-cost ratio last/first.

    Attributes:
        rounds: one result per round.
        train_families, heldout_families: the split the attack stayed inside / the rounds held out.
        ensemble: the max-ensemble of every round's classifier, when measured.
    """

    rounds: list[RoundResult]
    train_families: list[str]
    heldout_families: list[str]
    ensemble: RoundResult | None = None

    @property
    def cost_ratio_queries(self) -> float:
        """Queries per successful attack, last round over the first (a lower bound if the last found nothing)."""
        return self._ratio("queries_per_success_bound")

    @property
    def cost_ratio_seconds(self) -> float:
        """Seconds per successful attack, last round over the first."""
        return self._ratio("seconds_per_success_bound")

    @property
    def cost_ratio_is_lower_bound(self) -> bool:
        """Whether the last round's fresh attack found nothing, so its cost is only bounded below."""
        return bool(self.rounds[-1].cost["valid_finds"] == 0)

    def _ratio(self, key: str) -> float:
        return float(self.rounds[-1].cost[key] / max(self.rounds[0].cost[key], 1e-9))

    def table(self) -> list[dict[str, Any]]:
        """One flat row of headline figures per round."""
        return [r.row() for r in self.rounds]

    def to_dict(self) -> dict[str, Any]:
        """What ``rounds.json`` holds."""
        out: dict[str, Any] = {
            "rounds": [r.to_dict() for r in self.rounds], "table": self.table(),
            "cost_ratio_queries": self.cost_ratio_queries, "cost_ratio_seconds": self.cost_ratio_seconds,
            "cost_ratio_is_lower_bound": self.cost_ratio_is_lower_bound,
            "families": {"train": self.train_families, "heldout": self.heldout_families},
        }
        if self.ensemble is not None:
            out["ensemble"] = self.ensemble.to_dict()
        return out


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


def measure_round(world: StoryWorld, clf: Classifier, round_no: int, train_fams: Sequence[str],
                  heldout_fams: Sequence[str], cfg: AdversarialTrainConfig, oracle: Oracle,
                  progress: bool = True) -> RoundResult:
    """In-family and unseen-family failure rates through the filter, and the attack cost, of one classifier."""
    t = time.time()
    in_fam = evaluate_condition(world, clf, "in-family", list(train_fams), cfg.filter, cfg.eval,
                                progress=progress, seed_offset=0, oracle=oracle)
    unseen = (evaluate_condition(world, clf, "unseen families", list(heldout_fams), cfg.filter, cfg.eval,
                                 progress=progress, seed_offset=1, oracle=oracle)
              if heldout_fams else None)
    # The cost seeds come from a seed no training attack uses, and are the same draw every round.
    cost = measure_cost(world, clf, train_fams, cfg, seed=cfg.seed * 1009 + 999_983)
    return RoundResult(round_no, float(clf.threshold), in_fam, unseen, cost, seconds=time.time() - t)


def attack_round(world: StoryWorld, clf: Classifier, round_no: int, train_fams: Sequence[str],
                 cfg: AdversarialTrainConfig, progress: bool = True
                 ) -> tuple[AttackReport, list[Snippet], list[Snippet]]:
    """A round's training attack on fresh caught seeds of the training families.

    Returns:
        The attack's report, its oracle-confirmed finds as snippets, and their safe twins (empty
        unless ``cfg.hard_negatives``).
    """
    states = seed_states(world, clf, cfg.attack_seeds, seed=cfg.seed * 1009 + round_no, families=list(train_fams))
    report = world_attack(world, clf, states, cfg.attack, progress=progress)
    finds = finds_to_snippets(report, round_no)
    twins = (twins_to_snippets(cfg.attack.space(world), report, round_no, cfg.seed + round_no)
             if cfg.hard_negatives else [])
    return report, finds, twins


def write_finds(finds: Sequence[Snippet], path: Path) -> None:
    """Write a round's adversarial snippets as JSONL (``round_K/finds.jsonl``)."""
    from nines.data.io import write_jsonl

    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(list(finds), path)
