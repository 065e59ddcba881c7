"""``nines distill``: start policy, best-of-n and RL distillation, and the comparison on StoryWorld."""

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


def train_start_policy(world: StoryWorld, families: list[str] | None, cfg: DistillConfig, out: Path,
                       progress: bool = True) -> dict[str, Any]:
    """Train the tiny StoryWorld policy from scratch to imitate the unfiltered generator."""
    from nines.distill.policy import build_tiny_policy, count_parameters, save_policy
    from nines.distill.sft import encode_pairs, sft_train
    from nines.distill.tokenizer import build_word_tokenizer, storyworld_corpus

    # The vocabulary comes from every family, so the policy can write text it never saw in training.
    tokenizer = build_word_tokenizer(storyworld_corpus(world, n=max(cfg.sft_pairs, 100_000), seed=cfg.seed + 11))
    model = build_tiny_policy(tokenizer, cfg.policy, seed=cfg.seed)
    train = world.sample(cfg.sft_pairs, seed=cfg.seed + 12, families=families)
    val = world.sample(2000, seed=cfg.seed + 13, families=families)
    result = sft_train(model, encode_pairs(tokenizer, train.prompts, train.completions), cfg.sft,
                       val=encode_pairs(tokenizer, val.prompts, val.completions), progress=progress)
    save_policy(model, tokenizer, out)
    # The world's own per-token entropy bounds how low the validation loss can go.
    n_tokens = sum(len(tokenizer(" " + c)["input_ids"]) + 1 for c in val.completions)
    return {"parameters": count_parameters(model), "vocabulary": len(tokenizer), "steps": result.steps,
            "seconds": result.seconds, "val_loss": result.val_loss, "train_loss": result.train_loss,
            "world_path_entropy_per_token": float(-val.logprob.sum() / n_tokens)}


def _start(world: StoryWorld, fams: list[str] | None, cfg: DistillConfig, out: Path, con: Console,
           progress: bool) -> tuple[Path, dict[str, Any]]:
    """The start policy: the given one, or the tiny StoryWorld policy trained from scratch."""
    con.rule("[bold]1. start policy[/]")
    if cfg.start_policy:
        con.print(f"starting from {cfg.start_policy}")
        return Path(cfg.start_policy), {"source": cfg.start_policy}
    info = train_start_policy(world, fams, cfg, out / "start", progress)
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
            summary: dict[str, Any], oracle: Oracle | None = None) -> list[dict[str, Any]]:
    """Reward and failure rate at every RL checkpoint, plotted against sqrt(KL) beside the filtered policy."""
    from nines.distill.compare import kl_curve
    from nines.distill.plots import plot_kl_curves

    points = kl_curve(world, reward, start, summary["rl"]["checkpoints"], cfg.curve_prompts, cfg.eval.seed + 7,
                      oracle=oracle)
    filt = summary["policies"]["filtered"]
    plot_kl_curves(points, out / "kl_curves.png",
                   {"sqrt_kl": max(filt["kl"], 0) ** 0.5, "mean_reward": filt["mean_reward"], "failure": filt["failure"]})
    return points


def run_distill(cfg: DistillConfig, progress: bool = True, console: Console | None = None,
                oracle: Oracle | None = None) -> dict[str, Any]:
    """Run the whole distillation and write ``cfg.output``; returns what goes to ``results.json``.

    Args:
        cfg: the run's settings.
        progress: show progress bars.
        console: where to print (default a new rich console).
        oracle: labels the compared policies' completions (default StoryWorld's exact oracle under
            the run's families); ``world_exact_failure_rate`` needs an :class:`~nines.oracle.ExactOracle`
            (``None`` in the results otherwise).
    """
    from nines.classify.encoder import EncoderClassifier
    from nines.config import save_config, to_dict
    from nines.distill.compare import compare_policies
    from nines.distill.reward import AcceptanceReward
    from nines.distill.table import print_table
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
    summary: dict[str, Any] = {"config": to_dict(cfg), "timings": {}}
    timings, t = summary["timings"], time.time()
    start, summary["start"] = _start(world, fams, cfg, out, con, progress)
    timings["start_s"], t = time.time() - t, time.time()
    policies: dict[str, Path] = {}
    if "best_of_n" in cfg.methods:
        policies["best-of-n distilled"], summary["best_of_n"] = _best_of_n(world, clf, start, cfg, out, con, progress)
    timings["best_of_n_s"], t = time.time() - t, time.time()
    if "rl" in cfg.methods:
        policies["RL distilled"], summary["rl"] = _rl(world, reward, start, cfg, out, con, progress)
    timings["rl_s"], t = time.time() - t, time.time()

    con.rule("[bold]4. compare[/] unfiltered, filtered and distilled policies")
    rows = compare_policies(world, clf, reward, start, policies, cfg.eval, progress=progress, oracle=oracle)
    summary["policies"] = {r.name: r.to_dict() for r in rows}
    # The world's own exact failure rate on the same prompts: what the start policy imitates.
    eval_prompts = world.sample_prompts(cfg.eval.n_prompts, seed=cfg.eval.seed)
    summary["world_exact_failure_rate"] = (float(np.mean(oracle.probability(eval_prompts)))
                                           if isinstance(oracle, ExactOracle) else None)
    timings["compare_s"], t = time.time() - t, time.time()
    if "rl" in cfg.methods:
        summary["kl_curve"] = _curves(world, reward, start, cfg, out, summary, oracle)
    timings["curve_s"] = time.time() - t
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=float))
    print_table(con, rows)
    if summary["world_exact_failure_rate"] is not None:
        con.print(f"StoryWorld's own exact failure rate on these prompts: {summary['world_exact_failure_rate']:.3%} "
                  "(the unfiltered row is the start policy imitating it)")
    return summary
