"""Inter-labeller agreement for items with several labels (pairwise, Krippendorff's alpha), and the rule
that turns an item's labels into its one stored label."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Agreement:
    """How much labellers agree over the items that got at least two labels.

    Attributes:
        items: items with two or more labels (the only ones that say anything about agreement).
        labels: labels on those items.
        pairwise: share of labeller pairs on the same item who gave the same label; ``None``
            when no item has two labels.
        alpha: Krippendorff's alpha (nominal): 1 is perfect, 0 is chance level; ``None`` when
            undefined (fewer than two labelled items' worth of variation).
        unanimous: items whose labels all agree.
    """

    items: int
    labels: int
    pairwise: float | None
    alpha: float | None
    unanimous: int

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready form."""
        return {"items": self.items, "labels": self.labels, "pairwise": self.pairwise, "alpha": self.alpha,
                "unanimous": self.unanimous}


def agreement(labels_by_item: Mapping[object, Sequence[str]]) -> Agreement:
    """Agreement over items, each with the labels its labellers gave.

    Args:
        labels_by_item: item -> labels (one per labeller). Items with fewer than two are skipped.

    Returns:
        The summary; see :class:`Agreement`.
    """
    multi = [Counter(v) for v in labels_by_item.values() if len(v) >= 2]
    if not multi:
        return Agreement(items=0, labels=0, pairwise=None, alpha=None, unanimous=0)
    agree_pairs = total_pairs = 0
    coincidence: dict[tuple[str, str], float] = {}
    for counts in multi:
        n = sum(counts.values())
        agree_pairs += sum(c * (c - 1) for c in counts.values())
        total_pairs += n * (n - 1)
        for a, na in counts.items():
            for b, nb in counts.items():
                # Krippendorff's coincidence matrix: ordered pairs of values within a unit.
                coincidence[(a, b)] = coincidence.get((a, b), 0.0) + (na * nb - (na if a == b else 0)) / (n - 1)
    return Agreement(
        items=len(multi),
        labels=sum(sum(c.values()) for c in multi),
        pairwise=agree_pairs / total_pairs,
        alpha=_alpha(coincidence),
        unanimous=sum(1 for c in multi if len(c) == 1),
    )


def _alpha(coincidence: dict[tuple[str, str], float]) -> float | None:
    marginals: dict[str, float] = {}
    for (a, _b), v in coincidence.items():
        marginals[a] = marginals.get(a, 0.0) + v
    n = sum(marginals.values())
    observed = sum(v for (a, b), v in coincidence.items() if a != b)
    expected = sum(marginals[a] * marginals[b] for a in marginals for b in marginals if a != b) / (n - 1)
    if expected == 0:
        return None  # every label is the same value: alpha is undefined
    return 1.0 - observed / expected


@dataclass(frozen=True)
class Consensus:
    """The label an item's labels add up to.

    Attributes:
        label: the stored label; ``None`` when there are no labels, or when they tie and no
            admin has adjudicated.
        rule: ``"none"`` (no labels), ``"majority"`` (one label is strictly the most common),
            ``"adjudicated"`` (a tie, settled by the admin) or ``"tie"`` (awaiting adjudication).
        counts: how many labels of each value.
    """

    label: str | None
    rule: str
    counts: dict[str, int] = field(default_factory=dict)


def consensus(labels: Sequence[str], adjudicated: str | None = None) -> Consensus:
    """The aggregation rule: the most common label wins; a tie for most common goes to the admin.

    The order of the labels plays no part (so a late labeller cannot decide a tie), and an
    adjudication counts only while the labels tie: once a further label makes one value the
    most common, the majority rules again.

    Args:
        labels: every label the item has (one per labeller).
        adjudicated: the admin's decision for this item, if any.

    Returns:
        The stored label and the rule that gave it.
    """
    counts = dict(Counter(labels))
    if not counts:
        return Consensus(None, "none", counts)
    top = max(counts.values())
    leaders = [lab for lab, n in counts.items() if n == top]
    if len(leaders) == 1:
        return Consensus(leaders[0], "majority", counts)
    if adjudicated is not None:
        return Consensus(adjudicated, "adjudicated", counts)
    return Consensus(None, "tie", counts)
