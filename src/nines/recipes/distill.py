"""The distill recipe: ``nines distill`` and ``nines demo --distill`` both run :func:`distill`.

Four steps over the library's calls: the start policy (given, or the tiny StoryWorld policy trained
from scratch, :mod:`nines.distill.start`), best-of-n distillation (:mod:`nines.distill.bestofn`),
RL with the classifier as reward plus KL (:mod:`nines.distill.rl`), and the comparison of the
unfiltered, filtered and distilled policies against the oracle (:mod:`nines.distill.compare`).
The run folder gets the policies, ``results.json``, ``kl_curves.png``, ``config.yaml`` and the run
manifest.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from nines.distill.bestofn import BestOfNConfig, best_of_n_distill
from nines.distill.measure import PolicyEvalConfig
from nines.distill.policy import TinyPolicyConfig
from nines.distill.reward import RewardConfig
from nines.distill.rl import RLConfig, train_rl
from nines.distill.sft import SFTConfig
from nines.distill.start import train_start_policy
from nines.oracle.base import ExactOracle, Oracle

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld

METHODS = ("best_of_n", "rl")


@dataclass
class DistillConfig:
    """The whole distillation run on StoryWorld. Nested blocks are the components' own configs.

    Attributes:
        output: run folder (policies, ``results.json``, ``kl_curves.png``, ``config.yaml``).
        classifier: folder of the calibrated classifier (reward and filter).
        start_policy: folder or hub id of the policy to start from; empty trains the tiny
            StoryWorld policy from scratch (``policy`` shape, ``sft`` run, ``sft_pairs`` samples).
        methods: which distillations to run: ``best_of_n``, ``rl`` or both.
        families: StoryWorld families the unfiltered generator writes: ``classifier`` (the
            classifier's training families, saved in its metadata) or ``all``.
        world_seed: StoryWorld's seed.
        seed: master seed of training and evaluation prompts.
        sft_pairs: StoryWorld samples the from-scratch policy imitates.
        rl_prompts: training prompts for RL.
        curve_prompts: prompts per RL checkpoint for the reward/failure-vs-sqrt(KL) curves.
    """

    output: str = "runs/distill"
    classifier: str = "runs/demo/classifier"
    start_policy: str = ""
    methods: tuple[str, ...] = METHODS
    families: str = "classifier"
    world_seed: int = 0
    seed: int = 0
    sft_pairs: int = 200_000
    rl_prompts: int = 20_000
    curve_prompts: int = 1000
    policy: TinyPolicyConfig = field(default_factory=TinyPolicyConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    best_of_n: BestOfNConfig = field(default_factory=BestOfNConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    eval: PolicyEvalConfig = field(default_factory=PolicyEvalConfig)

    def __post_init__(self) -> None:
        if isinstance(self.methods, str):
            self.methods = tuple(m.strip() for m in self.methods.split(",") if m.strip())
        self.methods = tuple(self.methods)
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ValueError(f"methods must be a subset of {METHODS}, got {bad}")
        if self.families not in ("classifier", "all"):
            raise ValueError(f"families must be 'classifier' or 'all', got {self.families!r}")
        if self.sft_pairs < 1 or self.rl_prompts < 1 or self.curve_prompts < 2:
            raise ValueError("sft_pairs and rl_prompts must be >= 1, curve_prompts >= 2")


def _families(cfg: DistillConfig, clf: Any) -> list[str] | None:
    if cfg.families == "all":
        return None
    from nines.manifest import family_split

    split = family_split(cfg.classifier, clf)
    if split is None:
        raise ValueError(f"{cfg.classifier} has no training families in its manifest; set families=all")
    return list(split.train)


def _start(world: StoryWorld, fams: list[str] | None, cfg: DistillConfig, out: Path, con: Console,
           progress: bool) -> tuple[Path, dict[str, Any]]:
    """The start policy: the given one, or the tiny StoryWorld policy trained from scratch."""
    con.rule("[bold]1. start policy[/]")
    if cfg.start_policy:
        con.print(f"starting from {cfg.start_policy}")
        return Path(cfg.start_policy), {"source": cfg.start_policy}
    info = train_start_policy(world, fams, out / "start", sft_pairs=cfg.sft_pairs, seed=cfg.seed,
                              policy=cfg.policy, sft=cfg.sft, progress=progress)
    con.print(f"tiny policy: {info['parameters']:,} parameters, vocabulary {info['vocabulary']}; "
              f"{info['steps']} SFT steps in {info['seconds']:.0f}s, val loss {info['val_loss'][-1][1]:.3f} "
              f"nats/token (world's path entropy {info['world_path_entropy_per_token']:.3f})")
    return out / "start", info


def _best_of_n(world: StoryWorld, clf: Any, start: Path, cfg: DistillConfig, out: Path, con: Console,
               progress: bool) -> tuple[Path, dict[str, Any]]:
    con.rule("[bold]2. best-of-n[/] fine-tune on filter-accepted completions")
    prompts = world.sample_prompts(cfg.best_of_n.n_prompts, seed=cfg.seed + 21)
    bon = best_of_n_distill(start, clf, prompts, cfg.best_of_n, out / "best_of_n", seed=cfg.seed, progress=progress)
    con.print(f"{bon.accepted} accepted completions ({bon.generator_calls} samples), fine-tuned in {bon.seconds:.0f}s")
    return bon.policy_dir, {"accepted": bon.accepted, "refused": bon.refused, "generator_calls": bon.generator_calls,
                            "train_loss": bon.train_loss, "seconds": bon.seconds}


def _rl(world: StoryWorld, reward: Any, start: Path, cfg: DistillConfig, out: Path, con: Console,
        progress: bool) -> tuple[Path, dict[str, Any]]:
    con.rule(f"[bold]3. RL[/] ({cfg.rl.algorithm}, beta={cfg.rl.beta}) with the classifier as reward")
    rl = train_rl(start, reward, world.sample_prompts(cfg.rl_prompts, seed=cfg.seed + 31), cfg.rl, out / "rl",
                  progress=progress)
    con.print(f"{cfg.rl.steps} steps in {rl.seconds:.0f}s; reward {rl.history[0]['reward']:.3f} -> "
              f"{rl.history[-1]['reward']:.3f}")
    return rl.policy_dir, {"history": rl.history, "seconds": rl.seconds,
                           "checkpoints": [[s, str(p)] for s, p in rl.checkpoints]}


def _curves(world: StoryWorld, reward: Any, start: Path, cfg: DistillConfig, out: Path,
            summary: DistillSummary, oracle: Oracle | None = None) -> list[dict[str, Any]]:
    """Reward and failure rate at every RL checkpoint, plotted against sqrt(KL) beside the filtered policy."""
    from nines.distill.compare import kl_curve
    from nines.distill.plots import plot_kl_curves

    points = kl_curve(world, reward, start, (summary.rl or {})["checkpoints"], cfg.curve_prompts, cfg.eval.seed + 7,
                      oracle=oracle)
    filt = summary.policies["filtered"]
    plot_kl_curves(points, out / "kl_curves.png",
                   {"sqrt_kl": max(filt["kl"], 0) ** 0.5, "mean_reward": filt["mean_reward"], "failure": filt["failure"]})
    return points


@dataclass
class DistillSummary:
    """What a distillation run measured (``results.json`` is :meth:`to_dict`).

    Attributes:
        config: the resolved run config.
        start: how the start policy was made (source, or the from-scratch run's figures).
        policies: the comparison table, one row per policy (unfiltered, filtered, distilled).
        timings: seconds per step.
        best_of_n, rl: each method's training figures, when it ran.
        world_exact_failure_rate: the world's own exact failure rate on the compared prompts
            (``None`` unless the oracle is exact).
        kl_curve: reward and failure rate at every RL checkpoint, when RL ran.
    """

    config: dict[str, Any]
    start: dict[str, Any]
    policies: dict[str, dict[str, Any]]
    timings: dict[str, float]
    best_of_n: dict[str, Any] | None = None
    rl: dict[str, Any] | None = None
    world_exact_failure_rate: float | None = None
    kl_curve: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"config": self.config, "timings": self.timings, "start": self.start}
        out.update({k: v for k, v in (("best_of_n", self.best_of_n), ("rl", self.rl)) if v is not None})
        out["policies"] = self.policies
        out["world_exact_failure_rate"] = self.world_exact_failure_rate
        if self.kl_curve is not None:
            out["kl_curve"] = self.kl_curve
        return out


def distill(cfg: DistillConfig, progress: bool = True, console: Console | None = None,
            oracle: Oracle | None = None) -> DistillSummary:
    """Distil ``cfg.classifier``'s filter into one policy, compare the policies, and write ``cfg.output``.

    Args:
        cfg: the run's settings.
        progress: show progress bars.
        console: where to print (default a new rich console).
        oracle: labels the compared policies' completions (default StoryWorld's exact oracle under
            the run's families); ``world_exact_failure_rate`` needs an :class:`~nines.oracle.ExactOracle`
            (``None`` in the results otherwise).

    Returns:
        The run's figures; also written to ``results.json`` with the run manifest beside it.
    """
    from nines.classify.encoder import EncoderClassifier
    from nines.config import save_config, to_dict
    from nines.distill.compare import compare_policies
    from nines.distill.reward import AcceptanceReward
    from nines.distill.table import print_table
    from nines.manifest import family_split, record_stage
    from nines.storyworld import StoryWorld

    con = console or Console()
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    clf = EncoderClassifier.load(cfg.classifier)
    world = StoryWorld(seed=cfg.world_seed)
    fams = _families(cfg, clf)
    oracle = oracle if oracle is not None else world.oracle(fams)
    reward = AcceptanceReward(clf, cfg.reward)
    timings: dict[str, float] = {}
    t = time.time()
    start, start_info = _start(world, fams, cfg, out, con, progress)
    summary = DistillSummary(to_dict(cfg), start_info, {}, timings)
    timings["start_s"], t = time.time() - t, time.time()
    policies: dict[str, Path] = {}
    if "best_of_n" in cfg.methods:
        policies["best-of-n distilled"], summary.best_of_n = _best_of_n(world, clf, start, cfg, out, con, progress)
    timings["best_of_n_s"], t = time.time() - t, time.time()
    if "rl" in cfg.methods:
        policies["RL distilled"], summary.rl = _rl(world, reward, start, cfg, out, con, progress)
    timings["rl_s"], t = time.time() - t, time.time()

    con.rule("[bold]4. compare[/] unfiltered, filtered and distilled policies")
    rows = compare_policies(world, clf, reward, start, policies, cfg.eval, progress=progress, oracle=oracle)
    summary.policies = {r.name: r.to_dict() for r in rows}
    # The world's own exact failure rate on the same prompts: what the start policy imitates.
    eval_prompts = world.sample_prompts(cfg.eval.n_prompts, seed=cfg.eval.seed)
    if isinstance(oracle, ExactOracle):
        summary.world_exact_failure_rate = float(np.mean(oracle.probability(eval_prompts)))
    timings["compare_s"], t = time.time() - t, time.time()
    if summary.rl is not None:
        summary.kl_curve = _curves(world, reward, start, cfg, out, summary, oracle)
    timings["curve_s"] = time.time() - t
    (out / "results.json").write_text(json.dumps(summary.to_dict(), indent=2, default=float))
    split = family_split(cfg.classifier) if cfg.families == "classifier" else None
    record_stage(out, "distill", to_dict(cfg), families=split, inputs={"classifier": str(cfg.classifier)})
    print_table(con, rows)
    if summary.world_exact_failure_rate is not None:
        con.print(f"StoryWorld's own exact failure rate on these prompts: {summary.world_exact_failure_rate:.3%} "
                  "(the unfiltered row is the start policy imitating it)")
    return summary
