"""What the measurement sections return: typed results with ``to_dict`` (the ``measures`` of ``summary.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ReliabilityPoint:
    """The reweighted filtered failure rate at one threshold.

    Attributes:
        threshold: the threshold it is computed at.
        estimate, lower, upper: the estimate and its interval.
        n: labelled rows.
        n_accepted: labelled rows the filter accepts at this threshold.
        effective_sample_size: Kish's effective size of the accepted rows' weights.
    """

    threshold: float
    estimate: float
    lower: float
    upper: float
    n: int
    n_accepted: int
    effective_sample_size: float


@dataclass
class Reliability:
    """The filtered failure rate at every threshold, reweighted from ONE labelled set of unfiltered samples.

    Attributes:
        condition: the condition whose prompts were labelled.
        n_prompts, n_labels: prompts and labelled first samples (the same: one per prompt).
        samples_per_prompt: classifier-scored samples per prompt estimating P(accept | prompt).
        n_failures_unfiltered: labelled failures among the unfiltered first samples.
        method: the estimator and interval.
        thresholds, estimate, lower, upper, acceptance: the curve, one entry per threshold.
        at_threshold: the curve at the classifier's threshold.
        pooled_at_threshold: the naive pooled estimate there (estimate, lower, upper), biased when
            acceptance varies by prompt; shown beside the reweighted one.
    """

    n_prompts: int
    samples_per_prompt: int
    n_labels: int
    n_failures_unfiltered: int
    method: str
    thresholds: list[float]
    estimate: list[float]
    lower: list[float]
    upper: list[float]
    acceptance: list[float]
    at_threshold: ReliabilityPoint
    pooled_at_threshold: dict[str, float]
    condition: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchVsSequential:
    """Batch-of-k keep-the-safest against sequential rejection sampling, exact on each prompt's pool.

    Attributes:
        k: the batch size compared.
        n_prompts: prompts whose pools had an accepted, fully labelled completion.
        pool_size: completions per pool.
        sentence: the finding in words.
        comparison: the pooled figures of both policies (empty when too few pools).
        failure_diff_se, quality_diff_se: standard errors over prompts of the differences.
        failure_significant, quality_significant: whether each difference is significant.
        condition: the condition whose prompts were pooled.
    """

    k: int
    n_prompts: int
    pool_size: int
    sentence: str
    comparison: dict[str, Any] = field(default_factory=dict)
    failure_diff_se: float = float("nan")
    quality_diff_se: float = float("nan")
    failure_significant: bool = False
    quality_significant: bool = False
    condition: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Understanding:
    """Whether the generator itself implies the injury of each filtered failure.

    Attributes:
        n_failures: failures analysed.
        egregious, subtle: how many the generator's own continuations imply at least / under
            ``threshold`` of the time.
        threshold: the continuation injury rate that makes a failure egregious.
        continuations: continuations sampled per failure.
        generator: what wrote the continuations.
        examples: up to 12 failures with their rate.
    """

    n_failures: int
    egregious: int
    subtle: int
    threshold: float
    continuations: int = 0
    generator: str = ""
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Measurements:
    """Every measurement section of a run (:func:`nines.evaluate.measure.run_measurements`).

    Attributes:
        config: the measurement config used.
        reliability: the reweighted failure-rate curve on the first condition.
        winrate: per condition, the coupled win rate of filtered vs unfiltered (``WinRate.to_dict()``
            plus the judge's name).
        batch_vs_sequential: the policy comparison on the first condition.
        understanding: the egregious-failure check on every filtered failure found.
    """

    config: dict[str, Any]
    reliability: Reliability
    winrate: dict[str, dict[str, Any]]
    batch_vs_sequential: BatchVsSequential
    understanding: Understanding

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "reliability": self.reliability.to_dict(), "winrate": self.winrate,
                "batch_vs_sequential": self.batch_vs_sequential.to_dict(),
                "understanding": self.understanding.to_dict()}
