"""Sample and judge a generator's continuations of its own failures (see :mod:`nines.stats.understanding`).

For each failure, ``prompt + " " + completion`` goes back to the generator for m continuations, and
an injury judge (a classifier at a threshold, or an oracle reading StoryWorld's facts) says which
imply that an injury happened. The rate, its interval and the egregious/subtle split are computed
by the pure functions in :mod:`nines.stats.understanding`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from nines.classify.base import Classifier
from nines.generate.base import Completion, Generator
from nines.stats.understanding import UnderstandingResult, understanding_results

#: ``judge_fn(contexts, continuations) -> bool array``: does each continuation imply an injury happened?
InjuryJudge = Callable[[Sequence[str], Sequence[Completion]], np.ndarray]

__all__ = ["InjuryJudge", "classifier_judge", "oracle_judge", "understanding_rate"]


class _HasPair(Protocol):
    prompt: str
    completion: str | None


def _pairs(failures: Sequence[tuple[str, str] | _HasPair | Any]) -> list[tuple[str, str]]:
    out = []
    for f in failures:
        if isinstance(f, tuple) and len(f) == 2:
            out.append((str(f[0]), str(f[1])))
        elif getattr(f, "completion", None) is not None and hasattr(f, "prompt"):
            out.append((str(f.prompt), str(getattr(f, "completion"))))  # noqa: B009
        else:
            raise ValueError(
                f"each failure must be a (prompt, completion) tuple or have .prompt and .completion "
                f"(e.g. an accepted FilterResult); got {type(f).__name__}"
            )
    return out


def classifier_judge(classifier: Classifier, threshold: float | None = None) -> InjuryJudge:
    """An injury judge: ``classifier.score(context, continuation) > threshold`` (default: its own).

    Raises:
        ValueError: when the threshold is not in [0, 1].
    """
    thr = classifier.threshold if threshold is None else threshold
    if not 0.0 <= thr <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {thr!r}")

    def judge(contexts: Sequence[str], continuations: Sequence[Completion]) -> np.ndarray:
        scores = np.asarray(classifier.score(list(contexts), [c.text for c in continuations]), dtype=float)
        return np.nan_to_num(scores, nan=0.0) > thr

    return judge


def oracle_judge(key: str = "injurious") -> InjuryJudge:
    """An injury judge reading ``continuation.meta[key]`` (StoryWorld's aftermath generator sets it).

    Raises:
        ValueError: (when called) if a continuation lacks the key.
    """

    def judge(contexts: Sequence[str], continuations: Sequence[Completion]) -> np.ndarray:
        missing = [i for i, c in enumerate(continuations) if key not in c.meta]
        if missing:
            raise ValueError(f"continuation {missing[0]} has no meta[{key!r}]; use classifier_judge instead")
        return np.array([bool(c.meta[key]) for c in continuations])

    return judge


def understanding_rate(
    generator: Generator,
    judge_fn: InjuryJudge,
    failures: Sequence[tuple[str, str] | Any],
    n_continuations: int = 8,
    seed: int = 0,
) -> list[UnderstandingResult]:
    """Per failure, the share of the generator's continuations that imply an injury happened.

    One ``generator.generate`` call on all ``prompt + " " + completion`` contexts and one
    ``judge_fn`` call on all continuations.

    Args:
        generator: continues the contexts.
        judge_fn: ``(contexts, continuations) -> bool array`` (see :func:`classifier_judge`,
            :func:`oracle_judge`).
        failures: ``(prompt, completion)`` tuples or objects with ``.prompt``/``.completion``.
        n_continuations: continuations per failure (m >= 1).
        seed: generator seed.

    Raises:
        ValueError: on bad failures, ``n_continuations < 1`` or a judge returning the wrong shape.
    """
    if isinstance(n_continuations, bool) or not isinstance(n_continuations, int) or n_continuations < 1:
        raise ValueError(f"n_continuations must be an integer >= 1, got {n_continuations!r}")
    pairs = _pairs(failures)
    if not pairs:
        return []
    contexts = [p + " " + c for p, c in pairs]
    conts = generator.generate(contexts, n=n_continuations, seed=seed)
    flat_ctx = [ctx for ctx in contexts for _ in range(n_continuations)]
    flat = [c for row in conts for c in row]
    if len(flat) != len(flat_ctx):
        raise ValueError(f"generator returned {len(flat)} continuations, expected {len(flat_ctx)}")
    implied = np.asarray(judge_fn(flat_ctx, flat), dtype=bool).reshape(-1)
    if implied.shape != (len(flat),):
        raise ValueError(f"judge_fn must return one bool per continuation ({len(flat)}), got {implied.shape}")
    texts = [[x.text for x in row] for row in conts]
    return understanding_results(pairs, implied.reshape(len(pairs), n_continuations), texts)
