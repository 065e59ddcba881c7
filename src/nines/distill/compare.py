"""Run every policy on the same fresh prompts and fill the comparison table and the KL curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nines.classify.base import Classifier
from nines.distill.kl import KLEstimate
from nines.distill.measure import (
    PolicyEvalConfig,
    PolicyFigures,
    figures,
    filtered_kl,
    label_many,
    policy_kl,
    sample_filtered,
    sample_policy,
)
from nines.distill.policy import policy_generator
from nines.stats.binomial import binomial_interval


def compare_policies(world: Any, classifier: Classifier, reward: Any, start: str | Path, distilled: dict[str, Path],
                     cfg: PolicyEvalConfig, progress: bool = True) -> list[PolicyFigures]:
    """Unfiltered (the start policy), filtered (start + rejection sampling) and each distilled policy.

    Every policy continues the same ``cfg.n_prompts`` fresh prompts; the win rate of each is
    against independent unfiltered completions of the first ``cfg.winrate_prompts``.
    """
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
    labels = label_many(world, prompts, columns, progress=progress)
    kls = {"unfiltered": (KLEstimate(0.0, 0.0, len(prompts)), "exact (the start policy itself)"),
           "filtered": (filtered_kl(samples["filtered"].attempts, cfg.max_attempts),
                        "harmonic number of rejections (unbiased; refusals make it a slight under-estimate)")}
    for name, gen in gens.items():
        kls[name] = (policy_kl(gen, start_gen, samples[name], cfg.kl_prompts),
                     f"mean log-ratio over {cfg.kl_prompts} own samples")
    return [figures(name, s, labels[name], classifier, labels["reference"], cfg, kls[name][0], kls[name][1], reward)
            for name, s in samples.items()]


def kl_curve(world: Any, reward: Any, start: str | Path, checkpoints: Sequence[Sequence[Any]], n_prompts: int,
             seed: int) -> list[dict[str, Any]]:
    """Mean reward, oracle failure rate and KL to the start at each RL checkpoint (and the start, step 0)."""
    prompts = world.sample_prompts(n_prompts, seed=seed)
    start_gen = policy_generator(start, name="start")
    points = []
    for step, path in [(0, start), *[(int(s), p) for s, p in checkpoints]]:
        gen = start_gen if step == 0 else policy_generator(path, name=f"step {step}")
        s = sample_policy(gen, prompts, seed=seed + 1)
        texts = [str(t) for t in s.texts]
        lab = label_many(world, prompts, {"x": texts})["x"]
        scores = np.asarray(reward.classifier.score(prompts, texts))
        kl = KLEstimate(0.0, 0.0, len(prompts)) if step == 0 else policy_kl(gen, start_gen, s, n_prompts)
        points.append({
            "step": step, "kl": kl.kl, "kl_stderr": kl.stderr, "sqrt_kl": kl.sqrt_kl,
            "mean_reward": float(np.mean(reward.from_scores(scores))),
            "failure": binomial_interval(lab.n_failures, len(texts) - lab.n_invalid).to_dict(),
            "invalid_rate": lab.n_invalid / len(texts), "quality": float(np.mean(lab.quality)),
        })
    return points
