"""``ScoreBatcher``: one classifier shared by many requests, scored in merged batches.

Requests are filtered in worker threads, each calling ``score`` on its own few pairs. Scoring
them one call at a time would serialise the model anyway (it is not thread safe), so the
batcher merges whatever is waiting into one ``classifier.score`` call: the first waiting thread
becomes the leader, scores the queue (up to ``max_batch`` pairs per call) and hands every waiter
its slice; the others just wait. Under load that means fewer, larger model calls; with one
request it costs nothing extra.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nines.classify.base import Classifier


@dataclass
class _Job:
    prompts: list[str]
    completions: list[str]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class ScoreStats:
    """Counters for ``/metrics``: classifier calls, pairs scored, and calls that merged requests."""

    calls: int = 0
    pairs: int = 0
    merged_calls: int = 0
    seconds: float = 0.0


class ScoreBatcher:
    """A thread-safe :class:`~nines.classify.base.Classifier` merging concurrent ``score`` calls.

    Args:
        classifier: the wrapped classifier (its ``threshold`` is passed through).
        max_batch: most pairs per classifier call (a single larger job is still scored whole).
    """

    def __init__(self, classifier: Classifier, max_batch: int = 256) -> None:
        self.classifier = classifier
        # A plain attribute (the Classifier protocol's), read once: the served threshold is fixed.
        self.threshold = float(classifier.threshold)
        self.max_batch = max_batch
        self.stats = ScoreStats()
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """Score pairs, possibly in one model call together with other threads' pairs.

        Raises:
            Exception: whatever the classifier raised for the batch this job was in.
        """
        job = _Job(list(prompts), list(completions))
        if not job.prompts:
            return np.empty(0, dtype=np.float64)
        with self._cond:
            self._queue.append(job)
        while True:
            with self._cond:
                while not job.done and self._busy:
                    self._cond.wait()
                if job.done:
                    break
                self._busy = True
                batch = self._take()
            self._run(batch)
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _take(self) -> list[_Job]:
        """Pop jobs from the queue head up to ``max_batch`` pairs (at least one job). Holds the lock."""
        batch: list[_Job] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].prompts) <= self.max_batch):
            job = self._queue.pop(0)
            batch.append(job)
            size += len(job.prompts)
        return batch

    def _run(self, batch: list[_Job]) -> None:
        import time

        prompts = [p for j in batch for p in j.prompts]
        completions = [c for j in batch for c in j.completions]
        start = time.perf_counter()
        try:
            scores = np.asarray(self.classifier.score(prompts, completions), dtype=np.float64).reshape(-1)
            if scores.shape != (len(prompts),):
                raise ValueError(f"classifier.score returned shape {scores.shape} for {len(prompts)} pairs")
            pos = 0
            for j in batch:
                j.result = scores[pos:pos + len(j.prompts)]
                pos += len(j.prompts)
        except Exception as e:  # handed to every waiter of this batch, re-raised in its thread
            for j in batch:
                j.error = e
        with self._cond:
            self.stats.calls += 1
            self.stats.pairs += len(prompts)
            self.stats.merged_calls += len(batch) > 1
            self.stats.seconds += time.perf_counter() - start
            for j in batch:
                j.done = True
            self._busy = False
            self._cond.notify_all()
