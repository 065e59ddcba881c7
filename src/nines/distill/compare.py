"""Run every policy on the same fresh prompts and fill the comparison table and the KL curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nines.classify.base import Classifier
from nines.distill.kl import KLEstimate
from nines.distill.measure import (
    PolicyEvalConfig,
    PolicyFigures,
    Rater,
    figures,
    filtered_kl,
    label_many,
    policy_kl,
    sample_filtered,
    sample_policy,
    storyworld_rater,
)
from nines.distill.policy import policy_generator
from nines.generate.base import prompt_texts
from nines.oracle.base import Oracle
from nines.stats.binomial import binomial_interval

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld


def _judging(world: StoryWorld, oracle: Oracle | None, rater: Rater | None) -> tuple[Oracle, Rater]:
    return (oracle if oracle is not None else world.oracle(),
            rater if rater is not None else storyworld_rater(world))


def compare_policies(world: StoryWorld, classifier: Classifier, reward: Any, start: str | Path,
                     distilled: dict[str, Path], cfg: PolicyEvalConfig, progress: bool = True,
                     oracle: Oracle | None = None, rater: Rater | None = None) -> list[PolicyFigures]:
    """Unfiltered (the start policy), filtered (start + rejection sampling) and each distilled policy.

    Every policy continues the same ``cfg.n_prompts`` fresh StoryWorld prompts; the win rate of each
    is against independent unfiltered completions of the first ``cfg.winrate_prompts``. Labels come
    from ``oracle`` and quality from ``rater`` (defaults: StoryWorld's exact oracle and latent quality).
    """
    oracle, rater = _judging(world, oracle, rater)
    prompts = world.sample_prompts(cfg.n_prompts, seed=cfg.seed)
    start_gen = policy_generator(start, name="unfiltered")
    reference = sample_policy(start_gen, prompts[: cfg.winrate_prompts], seed=cfg.seed + 1)
    samples = {"unfiltered": sample_policy(start_gen, prompts, seed=cfg.seed + 2),
               "filtered": sample_filtered(start_gen, classifier, prompts, cfg.max_attempts, cfg.seed + 3, progress)}
    gens = {name: policy_generator(path, name=name) for name, path in distilled.items()}
    for name, gen in gens.items():
        samples[name] = sample_policy(gen, prompts, seed=cfg.seed + 4)
    columns: dict[str, Sequence[str | None]] = {k: v.texts for k, v in samples.items()}
    columns["reference"] = reference.texts
    labels = label_many(oracle, prompts, columns, progress=progress, rater=rater)
    kls = {"unfiltered": (KLEstimate(0.0, 0.0, len(prompts)), "exact (the start policy itself)"),
           "filtered": (filtered_kl(samples["filtered"].attempts, cfg.max_attempts),
                        "harmonic number of rejections (unbiased; refusals make it a slight under-estimate)")}
    for name, gen in gens.items():
        kls[name] = (policy_kl(gen, start_gen, samples[name], cfg.kl_prompts),
                     f"mean log-ratio over {cfg.kl_prompts} own samples")
    return [figures(name, s, labels[name], classifier, labels["reference"], cfg, kls[name][0], kls[name][1], reward)
            for name, s in samples.items()]


def kl_curve(world: StoryWorld, reward: Any, start: str | Path, checkpoints: Sequence[Sequence[Any]], n_prompts: int,
             seed: int, oracle: Oracle | None = None, rater: Rater | None = None) -> list[dict[str, Any]]:
    """Mean reward, oracle failure rate and KL to the start at each RL checkpoint (and the start, step 0)."""
    oracle, rater = _judging(world, oracle, rater)
    prompts = world.sample_prompts(n_prompts, seed=seed)
    start_gen = policy_generator(start, name="start")
    points = []
    for step, path in [(0, start), *[(int(s), p) for s, p in checkpoints]]:
        gen = start_gen if step == 0 else policy_generator(path, name=f"step {step}")
        s = sample_policy(gen, prompts, seed=seed + 1)
        texts = [str(t) for t in s.texts]
        lab = label_many(oracle, prompts, {"x": texts}, rater=rater)["x"]
        scores = np.asarray(reward.classifier.score(prompt_texts(prompts), texts))
        kl = KLEstimate(0.0, 0.0, len(prompts)) if step == 0 else policy_kl(gen, start_gen, s, n_prompts)
        points.append({
            "step": step, "kl": kl.kl, "kl_stderr": kl.stderr, "sqrt_kl": kl.sqrt_kl,
            "mean_reward": float(np.mean(reward.from_scores(scores))),
            "failure": binomial_interval(lab.n_failures, len(texts) - lab.n_invalid).to_dict(),
            "invalid_rate": lab.n_invalid / len(texts), "quality": float(np.mean(lab.quality)),
        })
    return points
