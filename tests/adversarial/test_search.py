"""Token search: exact greedy/beam behaviour and budgets on a keyword classifier; a real attack on an encoder."""

from __future__ import annotations

import numpy as np
import pytest

from nines.adversarial.candidates import CandidateSource, EmbeddingNeighbours, GradientCandidates
from nines.adversarial.search import SearchConfig, token_attack
from nines.classify.encoder import EncoderClassifier
from nines.generate.base import text_prompt_id
from nines.oracle import TableOracle
from nines.storyworld import StoryWorld

from .conftest import DictSource, KeywordClassifier

PROMPT = "Mara walked home."
ONE = "The troll stabbed Mara."  # one keyword: score 0.95
TWO = "The troll stabbed Mara and she was bleeding."  # two keywords: 0.95, then 0.9 once stabbed goes


def _cfg(**kw: object) -> SearchConfig:
    base: dict[str, object] = {"saliency": "occlusion", "positions": 1, "insertions": False,
                               "queries_per_seed": 100}
    base.update(kw)
    return SearchConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "field"), [
    ({"method": "bfs"}, "method"), ({"saliency": "lime"}, "saliency"), ({"beam_width": 0}, "beam_width"),
    ({"max_edits": 0}, "max_edits"), ({"positions": 1.5}, "positions"),
    ({"candidates_per_position": -1}, "candidates_per_position"), ({"queries_per_seed": 1}, "queries_per_seed"),
    ({"edit_prompt": False, "edit_completion": False}, "edit_completion=True"),
])
def test_config_rejects_bad_values_with_a_fix(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SearchConfig(**kw)  # type: ignore[arg-type]


def test_greedy_replaces_the_keyword_with_the_best_candidate(keyword_clf: KeywordClassifier) -> None:
    src = DictSource({"stabbed": ["knifed", "poked", "slashed"]})
    oracle = TableOracle({(text_prompt_id(PROMPT), "The troll poked Mara."): True})
    report = token_attack(keyword_clf, [(PROMPT, ONE)], _cfg(), [src], oracle=oracle)
    assert report.seeds == 1 and len(report.finds) == 1
    f = report.finds[0]
    assert (f.prompt, f.completion) == (PROMPT, "The troll poked Mara.")
    assert f.score == 0.3 <= keyword_clf.threshold and keyword_clf.score_one(f.completion) == f.score
    assert f.edits == ["swap 'stabbed'->'poked' @completion:2"]
    assert (f.original_score, f.method, f.label) == (0.95, "greedy", True)
    # 1 screening + 4 occluded completion words + 3 candidates.
    assert f.queries == report.queries == keyword_clf.seen == 8
    assert report.budget == 100 and report.seconds >= f.seconds > 0


def test_greedy_takes_several_steps_and_stops_at_max_edits(keyword_clf: KeywordClassifier) -> None:
    src = DictSource({"stabbed": ["poked"], "bleeding": ["sobbing"]})
    found = token_attack(keyword_clf, [(PROMPT, TWO)], _cfg(max_edits=2), [src])
    assert [f.edits for f in found.finds] == [["swap 'stabbed'->'poked' @completion:2",
                                               "swap 'bleeding.'->'sobbing.' @completion:7"]]
    assert found.finds[0].completion == "The troll poked Mara and she was sobbing."
    assert found.finds[0].label is None  # no oracle
    assert found.queries == 1 + (8 + 1) * 2  # screening, then occlusion of 8 words + 1 candidate per step
    capped = token_attack(KeywordClassifier(), [(PROMPT, TWO)], _cfg(max_edits=1), [src])
    assert capped.seeds == 1 and capped.finds == [] and capped.queries == 10


def test_budget_is_respected_exactly(keyword_clf: KeywordClassifier) -> None:
    src = DictSource({"stabbed": ["knifed", "slashed", "poked"]})
    # 1 screening + 4 occlusion + 2 of the 3 candidates: "poked" is cut, so nothing is found.
    report = token_attack(keyword_clf, [(PROMPT, ONE)], _cfg(queries_per_seed=7), [src])
    assert report.finds == [] and report.queries == keyword_clf.seen == report.budget == 7
    assert len(token_attack(KeywordClassifier(), [(PROMPT, ONE)], _cfg(queries_per_seed=8), [src]).finds) == 1

    seeds = [(PROMPT, ONE), (PROMPT, TWO), ("Sam waited.", "Sam was bleeding badly."), (PROMPT, "All fine.")]
    clf = KeywordClassifier()
    many = DictSource({"stabbed": ["knifed", "slashed", "poked"], "bleeding": ["sobbing", "knifed"], "knifed": ["poked"]})
    for q in (3, 9, 14, 40):
        clf.seen = 0
        rep = token_attack(clf, seeds, _cfg(queries_per_seed=q, max_edits=3), [many])
        assert rep.seeds == 3  # the accepted "All fine." seed is skipped ...
        assert rep.budget == 4 * q and rep.queries == clf.seen  # ... but its screening query is counted
        assert rep.queries <= 3 * q + 1
        assert all(f.metadata["seed_queries"] <= q and f.score <= clf.threshold for f in rep.finds)
        assert all(f.queries <= rep.queries for f in rep.finds)
    assert len(rep.finds) == 3 and rep.success_rate(valid_only=False) == 1.0


def test_beam_escapes_the_greedy_dead_end(keyword_clf: KeywordClassifier) -> None:
    # Greedy takes "slashed" (0.7 beats "knifed" at 0.8) and then has nothing to try; a beam of 2 keeps
    # "knifed", whose replacement "poked" (0.3) gets accepted.
    src = DictSource({"stabbed": ["knifed", "slashed"], "knifed": ["poked"]})
    greedy = token_attack(keyword_clf, [(PROMPT, ONE)], _cfg(max_edits=3), [src])
    assert greedy.finds == []
    beam = token_attack(KeywordClassifier(), [(PROMPT, ONE)], _cfg(method="beam", beam_width=2, max_edits=3), [src])
    assert [f.edits for f in beam.finds] == [["swap 'stabbed'->'knifed' @completion:2",
                                              "swap 'knifed'->'poked' @completion:2"]]
    assert beam.method == beam.finds[0].method == "beam" and beam.finds[0].score == 0.3


def test_insertions_and_prompt_edits(keyword_clf: KeywordClassifier) -> None:
    src = DictSource({}, {"troll": ["never"]})
    report = token_attack(keyword_clf, [(PROMPT, ONE)], _cfg(insertions=True), [src])
    assert [(f.completion, f.edits) for f in report.finds] == [
        ("The troll never stabbed Mara.", ["insert 'never' @completion:2"])]
    prompt_only = token_attack(KeywordClassifier(), [("She was bleeding.", "Sam helped.")],
                               _cfg(edit_prompt=True, edit_completion=False),
                               [DictSource({"bleeding": ["resting"]})])
    assert [(f.prompt, f.completion) for f in prompt_only.finds] == [("She was resting.", "Sam helped.")]


def test_gradient_saliency_needs_an_encoder(keyword_clf: KeywordClassifier) -> None:
    with pytest.raises(ValueError, match="occlusion"):
        token_attack(keyword_clf, [(PROMPT, ONE)], SearchConfig(saliency="gradient"), [DictSource({})])
    with pytest.raises(ValueError, match="sources"):
        token_attack(keyword_clf, [(PROMPT, ONE)], _cfg(), [])


@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_gradient_guided_attack_beats_a_weak_encoder(weak_encoder: EncoderClassifier, method: str,
                                                     world_batch: tuple[StoryWorld, list[str], list[str], np.ndarray],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    world, prompts, completions, y = world_batch
    scores = weak_encoder.score(prompts, completions)
    # A threshold that lets 90% of safe pairs through; seeds are caught injurious pairs a little above it
    # (ranks 10-12 by score), which this weak model cannot be argued out of by a single random word.
    monkeypatch.setattr(weak_encoder.meta, "threshold", float(np.quantile(scores[~y], 0.9)))
    caught = np.flatnonzero(y & (scores > weak_encoder.threshold))
    caught = caught[np.argsort(scores[caught], kind="stable")][10:13]
    seeds = [(prompts[i], completions[i]) for i in caught]
    assert len(seeds) == 3
    cfg = SearchConfig(method=method, beam_width=2, max_edits=4, positions=2,  # type: ignore[arg-type]
                       candidates_per_position=6, saliency="gradient", queries_per_seed=150)
    sources: list[CandidateSource] = [GradientCandidates(weak_encoder), EmbeddingNeighbours(weak_encoder)]
    report = token_attack(weak_encoder, seeds, cfg, sources, oracle=world.oracle())
    assert report.seeds == 3 and report.budget == 450 and report.queries <= 450
    assert len(report.finds) >= 2
    for f in report.finds:
        assert f.prompt == f.original_prompt and f.completion != f.original_completion
        assert f.score <= weak_encoder.threshold < f.original_score
        assert float(weak_encoder.score([f.prompt], [f.completion])[0]) == pytest.approx(f.score, abs=1e-6)
        assert 1 <= len(f.edits) <= 4 and f.metadata["seed_queries"] <= 150
        assert f.label in (True, False, None)
