"""The truth the human loop's estimates must cover: a known rule applied to fresh samples of the filter.

Prompts are 1-2 consecutive sentences of one TinyStories story (``../shared/data/tinystories_dev.txt``),
with content-hash ids (:meth:`nines.generate.base.Prompt.from_text`), which the app's store and the
label readers fall back to as well, so a prompt keeps its id through import, labelling and export.

:func:`compute_truth` draws ``pool_size`` fresh completions for each of many prompts that the loop
never labelled, scores them with the trained classifier and applies the scripted labellers' rule:

* the unfiltered failure rate: the rule on each prompt's first draw;
* the filtered failure rate: what rejection sampling returns (the first accepted draw of at most
  ``pool_size``, prompts with none refused, exactly :func:`nines.filter.filter_generate` with the
  ``sequential`` strategy and ``fallback=refuse``), computed with less variance from the mean of the rule
  over *all* of a prompt's accepted draws (they are independent draws from the same accepted-only
  distribution), averaged over the prompts that return something;
* the coupled win rate of filtered against unfiltered under the raters' expected outcome.

The estimators target what the labellers say, not the rule: with a majority of labellers that
err independently of the text, a completion's expected label is ``r (1 - eps) + (1 - r) eps``
(:func:`nines.app.simulate.noisy_rate`), so each rate is reported both under the rule and under the labels.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nines.app.simulate import KeywordRule, noisy_rate, rater_expected_outcome
from nines.classify.base import Classifier
from nines.data import devset
from nines.generate.base import Generator, Prompt

__all__ = ["LoopTruth", "compute_truth", "split_prompts", "tinystories_prompts"]


def tinystories_prompts(shared: str | Path | None = None) -> list[Prompt]:
    """Every distinct prompt of 1 or 2 consecutive sentences of one story, in file order.

    Raises:
        nines.data.devset.DevsetUnavailable: ``../shared`` (or ``$NINES_SHARED``) is absent.
    """
    raw = devset.read_source(devset.TINYSTORIES, shared)
    sents = devset.file_sentences(devset.TINYSTORIES, raw)
    seen: dict[str, Prompt] = {}
    for i, s in enumerate(sents):
        texts = [s.text]
        if i + 1 < len(sents) and sents[i + 1].unit == s.unit:
            texts.append(f"{s.text} {sents[i + 1].text}")
        for text in texts:
            if text.strip():
                seen.setdefault(text, Prompt.from_text(text, {"source": "tinystories", "sentence": i}))
    return list(seen.values())


def split_prompts(prompts: Sequence[Prompt], sizes: dict[str, int], seed: int) -> dict[str, list[Prompt]]:
    """Disjoint random samples of ``prompts``, one per name (a prompt is in at most one).

    Raises:
        ValueError: the sizes add up to more prompts than there are.
    """
    total = sum(sizes.values())
    if total > len(prompts):
        raise ValueError(f"asked for {total:,} distinct prompts but the pool has {len(prompts):,}; ask for fewer")
    order = random.Random(seed).sample(range(len(prompts)), total)
    out, start = {}, 0
    for name, n in sizes.items():
        out[name] = [prompts[i] for i in order[start:start + n]]
        start += n
    return out


@dataclass
class LoopTruth:
    """Rates under the rule (``*_rule``) and under the labellers' expected labels (``*_labels``).

    Attributes:
        n_prompts: fresh prompts drawn; pool_size: draws per prompt.
        refused: prompts with no accepted draw (excluded from the filtered rates and the win rate).
        accepted_share: share of all draws the filter accepts.
        label_flip: probability that an item's majority label differs from the rule.
        rater_noise: the raters' noise.
        unfiltered_rule, unfiltered_labels: the unfiltered failure rate (first draws), with ``unfiltered_se``.
        filtered_rule, filtered_labels: the filtered failure rate, with ``filtered_se`` (over prompts).
        filtered_first_rule: the rule on the first accepted draw only (what the filter returns).
        winrate: the coupled win rate of filtered vs unfiltered under the raters, with ``winrate_se``.
    """

    n_prompts: int
    pool_size: int
    refused: int
    accepted_share: float
    label_flip: float
    rater_noise: float
    unfiltered_rule: float
    unfiltered_labels: float
    unfiltered_se: float
    filtered_rule: float
    filtered_labels: float
    filtered_se: float
    filtered_first_rule: float
    winrate: float
    winrate_se: float
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def _coupled(first: str, first_ok: bool, accepted: list[str], rank: Callable[[str], tuple[int, ...]],
             noise: float) -> float | None:
    """One prompt's expected coupled-design outcome; None when the filter refuses it."""
    if first_ok:
        return 0.5  # both policies return the first draw: an exact tie, no comparison
    if not accepted:
        return None
    return rater_expected_outcome(rank, accepted[0], first, noise)


def compute_truth(generator: Generator, clf: Classifier, prompts: Sequence[Prompt], pool_size: int,
                  rule: KeywordRule, label_flip: float, rank: Callable[[str], tuple[int, ...]],
                  rater_noise: float, seed: int) -> LoopTruth:
    """The truth on fresh prompts (see the module docstring).

    Raises:
        ValueError: no prompt has an accepted draw.
    """
    import time

    t0 = time.perf_counter()
    comps = generator.generate(list(prompts), n=pool_size, seed=seed)
    texts = [[c.text for c in cs] for cs in comps]
    flat = np.asarray(clf.score([p.text for p, cs in zip(prompts, texts) for _ in cs], [c for cs in texts for c in cs]),
                      dtype=float)
    acc = (np.nan_to_num(flat, nan=1.0) <= float(clf.threshold)).reshape(len(prompts), pool_size)
    y = np.array([[rule(c) for c in cs] for cs in texts], dtype=float)
    served = acc.any(axis=1)
    if not served.any():
        raise ValueError("the filter accepts no draw of any truth prompt: the threshold rejects everything")
    per_prompt = np.array([y[i][acc[i]].mean() for i in np.flatnonzero(served)])
    first_acc = np.array([y[i][np.flatnonzero(acc[i])[0]] for i in np.flatnonzero(served)])
    outcomes = [o for cs, a in zip(texts, acc)
                if (o := _coupled(cs[0], bool(a[0]), [c for c, ok in zip(cs[1:], a[1:]) if ok], rank, rater_noise))
                is not None]
    first = y[:, 0]
    filtered = float(per_prompt.mean())
    return LoopTruth(
        n_prompts=len(prompts), pool_size=pool_size, refused=int((~served).sum()), accepted_share=float(acc.mean()),
        label_flip=label_flip, rater_noise=rater_noise,
        unfiltered_rule=float(first.mean()), unfiltered_labels=noisy_rate(float(first.mean()), label_flip),
        unfiltered_se=_se(first) * (1 - 2 * label_flip),
        filtered_rule=filtered, filtered_labels=noisy_rate(filtered, label_flip),
        filtered_se=_se(per_prompt) * (1 - 2 * label_flip), filtered_first_rule=float(first_acc.mean()),
        winrate=float(np.mean(outcomes)), winrate_se=_se(np.asarray(outcomes)),
        seconds=time.perf_counter() - t0)
