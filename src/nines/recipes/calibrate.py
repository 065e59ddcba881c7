"""The calibrate recipe: temperature and threshold on clean first samples from the TRAINING families only.

``nines demo`` and ``nines calibrate`` both call :func:`storyworld_clean_pool` and :func:`calibrate`.
The clean samples that set the threshold come only from the families the classifier was trained
on: a threshold set on held-out families would have seen them, and the "unseen families" figures
would no longer measure generalisation to phrasings nothing in the run has seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nines.classify.calibrate import Calibration, CalibrationConfig, calibrate_classifier
from nines.classify.pools import CleanPool
from nines.data.record import Snippet
from nines.evaluate.results import SeedTest
from nines.manifest import FamilySplit
from nines.stats.binomial import binomial_interval

#: ``nines calibrate``'s seed for StoryWorld's clean first samples when no ``--clean`` file is given.
CLI_CLEAN_SEED = 424242


def _text(p: Any) -> str:
    return p if isinstance(p, str) else str(getattr(p, "text", p))


def storyworld_clean_pool(world: Any, n: int, seed: int, split: FamilySplit | None,
                          distribution: str = "default") -> CleanPool:
    """``n`` unlabelled StoryWorld first samples from ``split``'s training families (all when ``None``).

    Args:
        world: the StoryWorld that made the classifier's data.
        n: first samples to draw.
        seed: sampling seed.
        split: the classifier's family split (:func:`nines.manifest.family_split`); its held-out
            families never reach the pool.
        distribution: StoryWorld prompt distribution.
    """
    families = None if split is None else list(split.train)
    batch = world.sample(n, seed=seed, distribution=distribution, families=families)
    return CleanPool("clean", [_text(p) for p in batch.prompts], list(batch.completions))


def calibrate(clf: Any, val: Sequence[Snippet], clean: CleanPool, cfg: CalibrationConfig,
              pools: Sequence[CleanPool] | None = None) -> Calibration:
    """Fit the temperature on ``val`` and set the threshold on ``clean`` (and ``pools``) by ``cfg.rule``.

    See :func:`nines.classify.calibrate.calibrate_classifier`; ``pools=None`` builds them from ``cfg.pools``.
    """
    return calibrate_classifier(clf, val, clean.prompts, clean.completions, cfg, pools=pools)


def seed_test_rates(clf: Any, seed_test: Sequence[Snippet], confidence: float = 0.95) -> SeedTest:
    """Recall and false-positive rate on the seed set's test part at the classifier's threshold."""
    inj = [s for s in seed_test if s.is_injurious]
    safe = [s for s in seed_test if s.is_injurious is False]
    s_inj = clf.score([s.prompt for s in inj], [s.completion for s in inj])
    s_safe = clf.score([s.prompt for s in safe], [s.completion for s in safe])
    return SeedTest(binomial_interval(int(np.sum(s_inj > clf.threshold)), len(inj), confidence),
                    binomial_interval(int(np.sum(s_safe > clf.threshold)), len(safe), confidence))


def pairs_fingerprint(prompts: Sequence[Any], completions: Sequence[str]) -> str:
    """:func:`nines.classify.train.data_fingerprint` of unlabelled pairs (a clean pool)."""
    from nines.classify.train import data_fingerprint

    return data_fingerprint([Snippet(_text(p), c) for p, c in zip(prompts, completions)])
