"""Rejection sampling against the injury classifier, batched over prompts in rounds.

Each round, every prompt still pending gets its completions from ONE ``generator.generate`` call
and all of them are scored in ONE ``classifier.score`` call (the expensive part), so the cost is
a handful of large batches rather than one small call per prompt per attempt.

Invariant: a returned completion scored above the effective threshold it was judged against
only ever comes back with ``rule == "fallback_safest"`` (and then ``accepted`` is False).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from nines.classify.base import Classifier
from nines.filter.config import FilterConfig
from nines.generate.base import Completion, Generator, PromptLike, as_prompts

Rule = Literal["accepted", "fallback_refuse", "fallback_safest"]


@dataclass
class FilterResult:
    """The outcome of rejection sampling for one prompt.

    Attributes:
        prompt: the prompt's text.
        prompt_id: the prompt's id (:attr:`nines.generate.base.Prompt.id`; a plain-string prompt's is
            its content hash), so a result is joined to its prompt, label or store row by id.
        completion: the returned completion's text, ``None`` when refused.
        accepted: True only when the returned completion passed its effective threshold.
        attempts: completions sampled for this prompt (all of them, including the rest of the
            batch an accepted completion came from).
        scores: the score of every sampled completion, in sampling order.
        rule: ``"accepted"``, ``"fallback_refuse"`` or ``"fallback_safest"``.
        threshold_used: the effective threshold the returned completion was judged against; for
            fallbacks, the one the last round was judged against.
        completion_meta: a copy of the returned ``Completion.meta`` (``{}`` when refused);
            StoryWorld's oracle label lives here.
        logprob: the returned completion's log-probability, ``None`` when refused or unknown.
        base_threshold: the threshold before any tightening (the first sample's threshold).
        rounds: sampling rounds this prompt took part in.
        score: the returned completion's score (``None`` when refused).
        run_id: identifies the :func:`filter_generate` call, so :func:`rejection_stats` can count
            calls correctly over results concatenated from several runs. Not compared by ``==``.
    """

    prompt: str
    prompt_id: str
    completion: str | None
    accepted: bool
    attempts: int
    scores: list[float]
    rule: Rule
    threshold_used: float
    completion_meta: dict[str, Any]
    logprob: float | None
    base_threshold: float = math.nan
    rounds: int = 0
    score: float | None = None
    run_id: str = field(default="", compare=False)


def round_seed(seed: int | None, round_index: int) -> int | None:
    """A reproducible, well-mixed per-round seed from the base seed (``None`` stays ``None``).

    Round seeds must differ (else a deterministic generator would re-emit the same rejected
    completions forever), and ``seed + i`` would make runs with seeds 0 and 1 overlap.
    """
    if seed is None:
        return None
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(round_index,))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


@dataclass
class _Pending:
    """Mutable per-prompt state while sampling."""

    index: int
    samples: list[Completion] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    rejections: int = 0
    rounds: int = 0
    threshold: float = math.nan  # the threshold of the latest round


def _passes(score: float, threshold: float) -> bool:
    # Phrased as "passes" (<=), not "not rejected" (not >): NaN > t is False, so the latter would
    # accept a NaN score. The explicit isnan keeps that from hinging on how the line is written.
    return not math.isnan(score) and score <= threshold


def _select(strategy: str, scores: Sequence[float], threshold: float) -> int | None:
    """Index within this round's batch of the completion to return, or ``None`` if none passed."""
    passing = [j for j, s in enumerate(scores) if _passes(s, threshold)]
    if not passing:
        return None
    if strategy == "batch_safest":
        return min(passing, key=lambda j: (scores[j], j))  # earliest wins ties
    return passing[0]  # sequential (batch of one) and batch_first


def _progress_bar(total: int, initial: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="filtering", unit="prompt", leave=False)


def _check_completions(out: Any, n_prompts: int, n: int, name: str) -> list[list[Completion]]:
    if not isinstance(out, list) or len(out) != n_prompts or any(len(c) != n for c in out):
        shape = [len(c) for c in out] if isinstance(out, list) else type(out).__name__
        raise ValueError(
            f"generator {name!r} must return {n_prompts} lists of {n} completions (one per prompt), "
            f"got {shape}"
        )
    return out


def _check_scores(scores: Any, n: int) -> list[float]:
    arr = np.asarray(scores, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"classifier.score must return {n} scores (one per completion), got shape {np.shape(scores)}")
    return [float(x) for x in arr]


def _iter_rounds(
    generator: Generator,
    classifier: Classifier,
    prompts: Sequence[PromptLike],
    cfg: FilterConfig,
    base: float,
) -> Iterator[tuple[int, list[int], list[FilterResult | None]]]:
    """Run the rounds; after each yields (round index, newly resolved prompt indices, results).

    The generator gets the prompts as given (a backend with latent state needs its own Prompt
    objects); the classifier gets their texts.
    """
    ided = as_prompts(prompts)
    texts = [p.text for p in ided]
    results: list[FilterResult | None] = [None] * len(prompts)
    pending = [_Pending(i) for i in range(len(prompts))]
    run_id = uuid.uuid4().hex
    sampled = 0  # every pending prompt has sampled exactly this many, as they all start together
    round_index = 0
    while pending:
        n = min(cfg.samples_per_round, cfg.max_attempts - sampled)
        batch_prompts = [prompts[p.index] for p in pending]
        out = _check_completions(
            generator.generate(batch_prompts, n=n, seed=round_seed(cfg.seed, round_index)),
            len(pending), n, getattr(generator, "name", type(generator).__name__),
        )
        flat_prompts = [texts[p.index] for p in pending for _ in range(n)]
        flat_texts = [c.text for comps in out for c in comps]
        flat_scores = _check_scores(classifier.score(flat_prompts, flat_texts), len(flat_texts))
        sampled += n

        still: list[_Pending] = []
        resolved: list[int] = []
        for k, p in enumerate(pending):
            comps = out[k]
            scores = flat_scores[k * n:(k + 1) * n]
            # All completions of a round share the threshold set by earlier rounds' rejections.
            thr = cfg.effective_threshold(base, p.rejections)
            p.samples.extend(comps)
            p.scores.extend(scores)
            p.rounds += 1
            p.threshold = thr
            j = _select(cfg.strategy, scores, thr)
            if j is not None:
                c = comps[j]
                results[p.index] = FilterResult(
                    prompt=texts[p.index], prompt_id=ided[p.index].id, completion=c.text, accepted=True, attempts=len(p.scores),
                    scores=list(p.scores), rule="accepted", threshold_used=thr,
                    completion_meta=dict(c.meta), logprob=c.logprob, base_threshold=base,
                    rounds=p.rounds, score=float(scores[j]), run_id=run_id,
                )
                resolved.append(p.index)
                continue
            p.rejections += len(scores)
            if sampled >= cfg.max_attempts:
                results[p.index] = _fallback(p, texts[p.index], ided[p.index].id, cfg, base, run_id)
                resolved.append(p.index)
            else:
                still.append(p)
        pending = still
        yield round_index, resolved, results
        round_index += 1


def _fallback(p: _Pending, prompt: str, prompt_id: str, cfg: FilterConfig, base: float, run_id: str) -> FilterResult:
    """Nothing was accepted within ``max_attempts``: refuse, or return the safest seen, flagged."""
    finite = [i for i, s in enumerate(p.scores) if not math.isnan(s)]
    if cfg.fallback == "safest" and finite:
        i = min(finite, key=lambda j: (p.scores[j], j))
        c = p.samples[i]
        return FilterResult(
            prompt=prompt, prompt_id=prompt_id, completion=c.text, accepted=False, attempts=len(p.scores), scores=list(p.scores),
            rule="fallback_safest", threshold_used=p.threshold, completion_meta=dict(c.meta),
            logprob=c.logprob, base_threshold=base, rounds=p.rounds, score=p.scores[i], run_id=run_id,
        )
    # Refusing is also the answer when every score was NaN: no completion is known to be safest.
    return FilterResult(
        prompt=prompt, prompt_id=prompt_id, completion=None, accepted=False, attempts=len(p.scores), scores=list(p.scores),
        rule="fallback_refuse", threshold_used=p.threshold, completion_meta={}, logprob=None,
        base_threshold=base, rounds=p.rounds, run_id=run_id,
    )


def _base_threshold(classifier: Classifier, cfg: FilterConfig) -> float:
    base = cfg.threshold if cfg.threshold is not None else getattr(classifier, "threshold", None)
    if base is None or not 0.0 <= float(base) <= 1.0:
        raise ValueError(
            f"classifier threshold {base!r} is not a probability in [0, 1]; set filter.threshold "
            f"or calibrate the classifier"
        )
    return float(base)


def filter_generate(
    generator: Generator,
    classifier: Classifier,
    prompts: Sequence[PromptLike],
    config: FilterConfig | None = None,
    progress: bool = True,
) -> list[FilterResult]:
    """Rejection-sample one completion per prompt, batching all prompts together in rounds.

    Each round samples ``1`` (sequential) or ``batch_size`` (batch strategies; fewer in a last,
    truncated round) completions for every pending prompt in one ``generator.generate`` call,
    scores them in one ``classifier.score`` call, and resolves the prompts that got an accepted
    completion or hit ``max_attempts``. So there are at most
    ``ceil(max_attempts / samples_per_round)`` calls of each, whatever the number of prompts.

    Args:
        generator: samples the completions.
        classifier: scores them; a score strictly above the effective threshold is a rejection,
            and a NaN score is always a rejection.
        prompts: :class:`~nines.generate.base.Prompt` objects or plain strings (passed to the
            generator as given; each result carries the prompt's id); duplicates are sampled
            independently.
        config: the filter settings (defaults to ``FilterConfig()``).
        progress: show a progress bar over resolved prompts once a second round is needed.

    Returns:
        One :class:`FilterResult` per prompt, in prompt order.

    Raises:
        ValueError: when the threshold is not in [0, 1], or the generator or classifier returns
            the wrong number of items.
    """
    cfg = config if config is not None else FilterConfig()
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of prompts, not a single string; wrap it in a list")
    prompts = list(prompts)
    if not prompts:
        return []
    base = _base_threshold(classifier, cfg)
    bar: Any = None
    done = 0
    final: list[FilterResult | None] = []
    try:
        for _, resolved, results in _iter_rounds(generator, classifier, prompts, cfg, base):
            done += len(resolved)
            final = results
            # The bar appears only once a second round is needed: one-round runs stay quiet.
            if progress and bar is None and done < len(prompts):
                bar = _progress_bar(len(prompts), done)
            elif bar is not None:
                bar.update(len(resolved))
    finally:
        if bar is not None:
            bar.close()
    assert all(r is not None for r in final)  # every prompt resolves by max_attempts
    return [r for r in final if r is not None]


class FilteredGenerator:
    """A :class:`~nines.generate.base.Generator` that rejection-samples from an inner generator.

    ``generate(prompts, n, seed)`` runs :func:`filter_generate` on each prompt repeated ``n``
    times, so it returns exactly ``n`` completions per prompt, as the protocol requires:

    - accepted: the inner completion (text, logprob, meta) with ``meta["filter_rule"] =
      "accepted"`` added (on a copy);
    - ``fallback="safest"`` gave up: the safest seen completion with
      ``meta["filter_rule"] = "fallback_safest"``;
    - refused: ``Completion(text="", logprob=None, meta={"refused": True,
      "filter_rule": "fallback_refuse"})``; callers skip completions whose meta has ``refused``.

    The full per-completion records of the latest call are in :attr:`last_results` (flat,
    prompt-major: prompt ``i``'s ``j``-th completion is at ``i * n + j``).

    Attributes:
        name: ``"filtered:" + inner.name``.
        inner: the wrapped generator.
        classifier: the classifier judging completions.
        config: filter settings; ``generate``'s ``seed`` overrides ``config.seed`` when not None.
        progress: passed to :func:`filter_generate`.
        last_results: the :class:`FilterResult` list of the latest ``generate`` call.
    """

    def __init__(
        self,
        inner: Generator,
        classifier: Classifier,
        config: FilterConfig | None = None,
        progress: bool = False,
    ) -> None:
        self.inner = inner
        self.classifier = classifier
        self.config = config if config is not None else FilterConfig()
        self.progress = progress
        self.name: str = f"filtered:{inner.name}"
        self.last_results: list[FilterResult] = []

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """Sample ``n`` filtered completions per prompt (see the class docstring)."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        cfg = self.config if seed is None else replace(self.config, seed=seed)
        expanded = [p for p in prompts for _ in range(n)]
        results = filter_generate(self.inner, self.classifier, expanded, cfg, progress=self.progress)
        self.last_results = results
        comps = [_as_completion(r) for r in results]
        return [comps[i * n:(i + 1) * n] for i in range(len(prompts))]


def _as_completion(r: FilterResult) -> Completion:
    if r.completion is None:
        return Completion(text="", logprob=None, meta={"refused": True, "filter_rule": r.rule})
    return Completion(text=r.completion, logprob=r.logprob, meta={**r.completion_meta, "filter_rule": r.rule})
