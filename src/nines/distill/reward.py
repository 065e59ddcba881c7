"""Rewards for distillation: a plain callable from (prompts, completions) to floats.

The default, :class:`AcceptanceReward`, is the log of a smoothed probability that the filter
accepts the completion:

    a(y) = sigmoid((logit(t) - logit(s(y))) / tau),     reward = max(log a(y), floor)

where ``s`` is the classifier's calibrated p(injurious) and ``t`` its threshold. It is about 0 for
anything comfortably below the threshold, so the policy is pushed *below* the threshold rather
than towards a score extreme. With a KL penalty of weight beta to the starting policy pi0, the
optimum of ``E[reward] - beta KL`` is ``pi*(y) ~ pi0(y) a(y)^(1/beta)``: at ``beta = 1`` that is
exactly the filtered (rejection-sampled) policy, and smaller beta is more conservative.

Any object with ``__call__(prompts, completions) -> list[float]`` serves as a reward (an ensemble,
a judge, ...); TRL passes extra keyword arguments, which the rewards here ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nines.classify.base import Classifier
from nines.generate.base import PromptLike, prompt_texts


@runtime_checkable
class Reward(Protocol):
    """Maps completions of prompts to scalar rewards (higher is better)."""

    def __call__(self, prompts: Sequence[str], completions: Sequence[str], **kwargs: Any) -> list[float]:
        """One reward per (prompt, completion) pair."""
        ...


@dataclass
class RewardConfig:
    """Shape of :class:`AcceptanceReward`.

    Attributes:
        kind: ``log_accept`` (log of the smoothed acceptance probability), ``accept`` (the
            probability itself) or ``neg_score`` (minus p(injurious): pushes to the extreme).
        tau: smoothing width in logit units; small tau approaches the hard filter decision.
        floor: lowest reward (bounds the variance of log a(y) on flagrant completions).
        threshold: acceptance threshold; ``None`` uses the classifier's calibrated one.
    """

    kind: str = "log_accept"
    tau: float = 0.5
    floor: float = -10.0
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("log_accept", "accept", "neg_score"):
            raise ValueError(f"reward.kind must be log_accept, accept or neg_score, got {self.kind!r}")
        if not self.tau > 0:
            raise ValueError(f"reward.tau must be > 0 (logit units, e.g. 0.5), got {self.tau}")
        if not self.floor < 0:
            raise ValueError(f"reward.floor must be < 0 (e.g. -10), got {self.floor}")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(f"reward.threshold must be in (0, 1) or null, got {self.threshold}")


def _logit(p: np.ndarray | float) -> Any:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


class AcceptanceReward:
    """The classifier as a reward (see the module docstring for the formula).

    Args:
        classifier: any :class:`~nines.classify.base.Classifier` (``score`` gives p(injurious)).
        config: reward shape.

    Attributes:
        calls: classifier calls made (one per scored completion).
    """

    __name__ = "acceptance_reward"  # TRL names logged reward columns after the callable

    def __init__(self, classifier: Classifier, config: RewardConfig | None = None) -> None:
        self.classifier = classifier
        self.config = config or RewardConfig()
        t = self.config.threshold if self.config.threshold is not None else getattr(classifier, "threshold", None)
        if t is None or not 0 < float(t) < 1:
            raise ValueError("the reward needs an acceptance threshold: calibrate the classifier or set reward.threshold")
        self.threshold = float(t)
        self.calls = 0

    def from_scores(self, scores: np.ndarray) -> np.ndarray:
        """Rewards from calibrated p(injurious) scores, shape (N,) -> (N,)."""
        cfg = self.config
        s = np.asarray(scores, dtype=float)
        if cfg.kind == "neg_score":
            return -s
        z = (_logit(self.threshold) - _logit(s)) / cfg.tau
        log_a = -np.logaddexp(0.0, -z)  # log sigmoid(z), stable
        if cfg.kind == "accept":
            return np.exp(log_a)
        return np.maximum(log_a, cfg.floor)

    def __call__(self, prompts: Sequence[PromptLike], completions: Sequence[str], **kwargs: Any) -> list[float]:
        """Rewards of completions (a leading space, as a policy writes after the prompt, is ignored)."""
        if len(prompts) != len(completions):
            raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
        texts = [str(c).lstrip(" ") for c in completions]
        scores = np.asarray(self.classifier.score(prompt_texts(prompts), texts))
        self.calls += len(texts)
        return [float(r) for r in self.from_scores(scores)]

    def best_possible(self) -> float:
        """Supremum of the reward (0 for log_accept and neg_score, 1 for accept)."""
        return 1.0 if self.config.kind == "accept" else 0.0

