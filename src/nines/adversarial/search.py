"""Token substitution and insertion search: edit a caught snippet, word by word, until the filter accepts it.

Like Redwood Research's tool-assisted rewriting, automated: each step ranks words by saliency (which
words make the classifier reject), asks candidate sources for replacements and insertions at the most
salient words, scores every candidate snippet in one batched call and keeps the best (``greedy``) or
the ``beam_width`` best (``beam``). A seed stops at its first accepted snippet, or when ``max_edits``
steps or its query budget run out.

Query accounting (every query goes through a :class:`~nines.adversarial.budget.CountingClassifier`
with a budget of ``queries_per_seed`` per seed snippet):

* screening: every seed is scored once, in one batch, and this query is charged to its own budget.
  Seeds the filter already accepts are skipped: they are not counted in ``AttackReport.seeds`` (the
  run could not improve on them) but their screening query is in ``AttackReport.queries``.
* gradient saliency costs 1 query per call (one forward and one backward pass); occlusion saliency
  costs one query per occluded word.
* a :class:`~nines.adversarial.candidates.ContextualSource` (HotFlip) costs ``context_cost`` queries
  per snippet it is bound to; the candidate snippets cost one query each.

When a batch of candidates would go over budget it is cut to the queries left, so a seed never spends
more than ``queries_per_seed`` and ``AttackReport.queries <= AttackReport.budget`` always holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from nines.adversarial.budget import CountingClassifier, QueryBudgetExceeded
from nines.adversarial.candidates import CandidateSource, ContextualSource, candidate_edits
from nines.adversarial.result import AttackFind, AttackReport
from nines.adversarial.saliency import (
    Edit,
    Segment,
    WordSaliency,
    gradient_saliency,
    occlusion_saliency,
)
from nines.classify.base import Classifier
from nines.classify.encoder import EncoderClassifier
from nines.generate.base import Prompt, PromptLike, as_prompt
from nines.oracle.base import Oracle, label_all


@dataclass
class SearchConfig:
    """How :func:`token_attack` searches.

    Attributes:
        method: ``greedy`` applies the best edit each step and stops when no edit lowers the score;
            ``beam`` keeps the ``beam_width`` best edit sequences each step.
        beam_width: partial edit sequences kept by ``beam`` (ignored by ``greedy``).
        max_edits: most edits applied to one seed (search steps).
        positions: most salient words tried per step (per beam member).
        candidates_per_position: words asked of each source, per kind (substitute, insert), per word.
        insertions: also try inserting words before the salient words.
        deletions: also try deleting the salient words (off by default: it rarely keeps the meaning).
        edit_prompt: allow edits of the prompt.
        edit_completion: allow edits of the completion.
        saliency: ``gradient`` (needs an :class:`EncoderClassifier`, 1 query per step) or
            ``occlusion`` (any classifier, one query per word).
        queries_per_seed: query budget of each seed, screening included; ``None`` for no limit.
    """

    method: Literal["greedy", "beam"] = "greedy"
    beam_width: int = 4
    max_edits: int = 5
    positions: int = 3
    candidates_per_position: int = 10
    insertions: bool = True
    deletions: bool = False
    edit_prompt: bool = False
    edit_completion: bool = True
    saliency: Literal["gradient", "occlusion"] = "gradient"
    queries_per_seed: int | None = 500

    def __post_init__(self) -> None:
        if self.method not in ("greedy", "beam"):
            raise ValueError(f"SearchConfig.method must be 'greedy' or 'beam', got {self.method!r}")
        if self.saliency not in ("gradient", "occlusion"):
            raise ValueError(f"SearchConfig.saliency must be 'gradient' (encoder classifiers) or 'occlusion' "
                             f"(any classifier), got {self.saliency!r}")
        for name in ("beam_width", "max_edits", "positions", "candidates_per_position"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SearchConfig.{name} must be a positive integer, got {value!r}")
        if not (self.edit_prompt or self.edit_completion):
            raise ValueError("SearchConfig: nothing to edit; set edit_completion=True and/or edit_prompt=True")
        q = self.queries_per_seed
        if q is not None and (isinstance(q, bool) or not isinstance(q, int) or q < 2):
            raise ValueError(f"SearchConfig.queries_per_seed must be an integer >= 2 (1 goes to scoring the seed) "
                             f"or None for no limit, got {q!r}")

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The segments the search may edit."""
        chosen: list[Segment] = []
        if self.edit_prompt:
            chosen.append("prompt")
        if self.edit_completion:
            chosen.append("completion")
        return tuple(chosen)


@dataclass(frozen=True)
class _State:
    """A snippet reached by a sequence of edits, with its score."""

    prompt: str
    completion: str
    score: float
    edits: tuple[Edit, ...] = ()


@dataclass
class _Seed:
    """What one seed's search needs: the counting wrapper, the white-box model, the config, sources."""

    counter: CountingClassifier
    encoder: EncoderClassifier | None
    config: SearchConfig
    sources: Sequence[CandidateSource]
    visited: set[tuple[str, str]] = field(default_factory=set)


def _charge(counter: CountingClassifier, n: int) -> None:
    """Count ``n`` white-box queries (gradients) that do not go through ``counter.score``."""
    if counter.budget is not None and counter.queries + n > counter.budget:
        raise QueryBudgetExceeded(f"query budget of {counter.budget} reached ({counter.queries} used)")
    counter.queries += n
    counter.calls += 1


def _white_box(clf: Classifier) -> EncoderClassifier | None:
    """The encoder under any number of counting wrappers, or ``None`` for a black-box classifier."""
    while isinstance(clf, CountingClassifier):
        clf = clf.inner
    return clf if isinstance(clf, EncoderClassifier) else None


def _salient_words(run: _Seed, state: _State) -> list[WordSaliency]:
    """The ``positions`` words that push the score up most, in the editable segments."""
    segs = run.config.segments
    if run.config.saliency == "gradient":
        assert run.encoder is not None  # checked by token_attack
        _charge(run.counter, 1)
        smap = gradient_saliency(run.encoder, state.prompt, state.completion)
    else:
        smap = occlusion_saliency(run.counter, state.prompt, state.completion, segments=segs,
                                  base_score=state.score)
    words = [w for w in smap.words() if w.segment in segs]
    return sorted(words, key=lambda w: -w.value)[: run.config.positions]


def _expand(run: _Seed, state: _State) -> list[tuple[Edit, str, str]]:
    """Unvisited children of ``state``: edits at its most salient words (most salient first)."""
    words = _salient_words(run, state)
    cost = sum(s.context_cost for s in run.sources if isinstance(s, ContextualSource))
    if cost:
        _charge(run.counter, cost)  # bound once per snippet; their gradients are cached across words
    cfg = run.config
    out: list[tuple[Edit, str, str]] = []
    for w in words:
        for ed in candidate_edits(state.prompt, state.completion, w.segment, w.index, run.sources,
                                  cfg.candidates_per_position, cfg.insertions, cfg.deletions):
            p, c = ed.apply(state.prompt, state.completion)
            if (p, c) not in run.visited:
                run.visited.add((p, c))
                out.append((ed, p, c))
    return out


def _search_seed(run: _Seed, seed: _State) -> _State | None:
    """Greedy or beam search from one caught seed; the first accepted state found, else ``None``."""
    cfg, counter = run.config, run.counter
    width = cfg.beam_width if cfg.method == "beam" else 1
    beam = [seed]
    run.visited.add((seed.prompt, seed.completion))
    for _ in range(cfg.max_edits):
        children: list[tuple[_State, Edit, str, str]] = []
        try:
            for st in beam:
                children += [(st, ed, p, c) for ed, p, c in _expand(run, st)]
        except QueryBudgetExceeded:
            pass  # score what was gathered, then stop below if nothing is left
        if counter.remaining is not None:
            children = children[: counter.remaining]  # most salient positions come first
        if not children:
            return None
        scores = counter.score([p for _, _, p, _ in children], [c for _, _, _, c in children])
        ranked = sorted(zip(scores.tolist(), range(len(children))))
        nxt = [_State(children[i][2], children[i][3], sc, children[i][0].edits + (children[i][1],))
               for sc, i in ranked[:width]]
        if nxt[0].score <= counter.threshold:
            return nxt[0]
        if cfg.method == "greedy" and nxt[0].score >= beam[0].score:
            return None  # a local minimum: no edit lowers the score
        beam = nxt
    return None


def _screen(clf: Classifier, snippets: Sequence[tuple[Prompt, str]]) -> list[float]:
    """Scores of all seeds in one batch (each is later charged to its own seed's budget)."""
    if not snippets:
        return []
    return [float(s) for s in clf.score([p.text for p, _ in snippets], [c for _, c in snippets])]


def token_attack(clf: Classifier, snippets: Sequence[tuple[PromptLike, str]], config: SearchConfig,
                 sources: Sequence[CandidateSource], oracle: Oracle | None = None,
                 progress: bool = False) -> AttackReport:
    """Search word edits that make the filter accept each caught snippet.

    Args:
        clf: the classifier under attack (an :class:`EncoderClassifier` for gradient saliency).
        snippets: ``(prompt, completion)`` seeds, the prompt a :class:`~nines.generate.base.Prompt`
            or its text; those already accepted are skipped (see the module docstring for how they
            are counted).
        config: search settings.
        sources: candidate sources (:class:`~nines.adversarial.candidates.EmbeddingNeighbours`, ...).
        oracle: labels each find (``True`` injurious, ``None`` when it cannot say), e.g.
            ``StoryWorld.oracle()``. A find whose prompt text was edited is a new prompt (a
            content-hash id), which StoryWorld's oracle cannot label.
        progress: show a progress bar over seeds.

    Returns:
        An :class:`AttackReport` with ``method`` ``greedy``/``beam``, at most one find per seed, and
        ``budget = queries_per_seed * len(snippets)``. Gradients go straight to the encoder (under any
        wrapper ``clf`` may be) and are counted in the report only, not by a wrapper passed in.
    """
    encoder = _white_box(clf)
    if config.saliency == "gradient" and encoder is None:
        raise ValueError("saliency='gradient' needs an EncoderClassifier; use SearchConfig(saliency='occlusion') "
                         f"to attack a black-box {type(clf).__name__}")
    if not sources and not config.deletions:
        raise ValueError("no candidate sources: pass e.g. [EmbeddingNeighbours(clf)] or set deletions=True")
    started = time.perf_counter()
    seeds = [(as_prompt(p), c) for p, c in snippets]
    n = len(seeds)
    budget = None if config.queries_per_seed is None else config.queries_per_seed * n
    report = AttackReport(method=config.method, seeds=0, budget=budget)
    scores = _screen(clf, seeds)
    report.queries = n
    threshold = float(clf.threshold)
    order: Iterable[int] = range(n)
    if progress:
        from tqdm.auto import tqdm
        order = tqdm(order, desc=f"{config.method} search", unit="seed")
    for i in order:
        (prompt, completion), score = seeds[i], scores[i]
        if score <= threshold:
            continue  # already accepted: nothing to find
        report.seeds += 1
        counter = CountingClassifier(clf, config.queries_per_seed)
        counter.queries = 1  # the screening query
        found = _search_seed(_Seed(counter, encoder, config, sources), _State(prompt.text, completion, score))
        report.queries += counter.queries - 1
        if found is not None:
            report.finds.append(_find(found, prompt, completion, score, config, report.queries,
                                      time.perf_counter() - started, oracle, counter.queries))
    report.seconds = time.perf_counter() - started
    return report


def _find(state: _State, prompt: Prompt, completion: str, score: float, config: SearchConfig, queries: int,
          seconds: float, oracle: Oracle | None, seed_queries: int) -> AttackFind:
    """The :class:`AttackFind` record of an accepted state."""
    found = prompt if state.prompt == prompt.text else as_prompt(state.prompt)
    return AttackFind(
        prompt=state.prompt, prompt_id=found.id, completion=state.completion, score=state.score,
        original_prompt=prompt.text, original_completion=completion, original_score=score,
        method=config.method, edits=[ed.describe() for ed in state.edits], queries=queries, seconds=seconds,
        label=None if oracle is None else label_all(oracle, [found], [state.completion])[0],
        metadata={"seed_queries": seed_queries, "saliency": config.saliency, "steps": len(state.edits)},
    )
