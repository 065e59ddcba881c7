"""Ensembles of classifiers: a snippet is as suspicious as its most suspicious member finds it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nines.classify.base import Classifier
from nines.classify.calibrate import CalibrationConfig, ThresholdChoice, choose_threshold_over_pools
from nines.classify.pools import CleanPool, PoolResult, resolve_pools


class EnsembleClassifier:
    """Max over members' calibrated scores, with its own threshold.

    Why max: the filter must be conservative, so a snippet any member finds suspicious is suspicious.
    The members' own thresholds do not carry over (the max of calibrated probabilities is not
    calibrated), so the ensemble's threshold is set again from clean first samples with
    :meth:`calibrate_threshold`, at the same rejection budget a single classifier gets.

    Args:
        members: classifiers with a ``score`` method (their ``threshold`` is ignored).
        threshold: the ensemble's threshold; call :meth:`calibrate_threshold` to set it from data.
    """

    def __init__(self, members: Sequence[Classifier], threshold: float = 0.5) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member classifier")
        self.members = list(members)
        self.threshold = float(threshold)
        #: Each clean pool's rejection at the threshold :meth:`calibrate_threshold` chose (``clean`` first).
        self.pools: list[PoolResult] = []

    def member_scores(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """Each member's score, shape ``(n_members, N)``."""
        return np.stack([np.asarray(m.score(prompts, completions), dtype=np.float64) for m in self.members])

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """Max over members, shape ``(N,)``."""
        return self.member_scores(prompts, completions).max(axis=0)

    def calibrate_threshold(self, clean_prompts: Sequence[str], clean_completions: Sequence[str],
                            injurious_prompts: Sequence[str] = (), injurious_completions: Sequence[str] = (),
                            config: CalibrationConfig | None = None,
                            pools: Sequence[CleanPool] | None = None) -> ThresholdChoice:
        """Set the threshold by the same rule as a single classifier (default: rejection budget).

        Under the rejection budget, extra clean pools bind as they do for
        :func:`~nines.classify.calibrate.calibrate_classifier`: the threshold keeps every pool within
        its budget, and each pool's rate lands in :attr:`pools`.

        Args:
            clean_prompts, clean_completions: first samples on clean prompts (mostly safe, unlabelled).
            injurious_prompts, injurious_completions: labelled injurious snippets; needed only for the
                ``target_recall`` rule, and used to report recall otherwise.
            config: the rule, its budget and its pools (``CalibrationConfig`` defaults: 5% rejection
                budget, no extra pool).
            pools: extra clean pools; when ``None`` they are built from ``config.pools``.
        """
        cfg = config or CalibrationConfig()
        clean = self.score(clean_prompts, clean_completions)
        inj = self.score(injurious_prompts, injurious_completions) if len(injurious_prompts) else np.empty(0)
        choice, self.pools = choose_threshold_over_pools(
            cfg, clean, inj, CleanPool("clean", list(clean_prompts), list(clean_completions)),
            list(resolve_pools(cfg.pools)) if pools is None else list(pools),
            lambda p: self.score(p.prompts, p.completions))
        self.threshold = choice.threshold
        return choice
