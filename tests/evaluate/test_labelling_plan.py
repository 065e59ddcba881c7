"""Labelling plans: inclusion probabilities, the estimate from plan labels against the exact truth,
and the coupled win-rate pairs, on StoryWorld's exact scenario (``labelled_sim``)."""

from __future__ import annotations

import numpy as np
import pytest
from labelled_sim import ScenarioClassifier, ScenarioGenerator, plan_prompts, scenario

from nines.evaluate.labelled_winrate import coupled_winrate_from_comparisons
from nines.evaluate.labelling_plan import PlanConfig, estimate_from_plan, make_plan
from nines.evaluate.labels_source import LabelledRow
from nines.stats.rare import importance_sample
from nines.stats.winrate import exact_winrate


@pytest.fixture(scope="module")
def world():
    sc = scenario()
    return sc, ScenarioGenerator(sc), ScenarioClassifier(sc)


def _label(sc, prompt: str, completion: str) -> bool:
    return bool(sc.labels[int(prompt.split()[1]), int(completion.split()[1])])


def _rows(sc, plan) -> list[LabelledRow]:
    return [LabelledRow(r["prompt_id"], r["prompt"], r["completion"], _label(sc, r["prompt"], r["completion"]),
                        {"plan": r["plan"], "score": r["score"]}) for r in plan.rows]


def _pool_truth(sc, gen, prompts, plan, size: int, seed: int) -> float:
    """F_pool = sum_i p_i y_i with exact oracle labels of the whole pool (the plan's estimand)."""
    comps = gen.generate(prompts, n=size, seed=seed)  # the same draws make_plan made
    y = np.array([_label(sc, p.text, c.text) for p, cs in zip(prompts, comps) for c in cs])
    return float((plan.pool_target * y).sum())


def test_stratified_inclusion_probabilities_sum_to_the_labels(world) -> None:
    sc, gen, clf = world
    plan = make_plan(gen, clf, plan_prompts(500, 0), 200, PlanConfig(design="stratified"))
    incl, acc = plan.pool_inclusion, plan.pool_accepted
    assert incl.sum() == pytest.approx(200) and np.all(incl[~acc] == 0) and np.all((incl >= 0) & (incl <= 1))
    assert plan.pool_target.sum() == pytest.approx(1.0) and np.all(plan.pool_target[~acc] == 0)
    rows = plan.rows
    assert len(rows) == 200 and all(r["score"] <= clf.threshold and r["label"] is None for r in rows)
    for r in rows:
        st = r["plan"]["strata"][r["plan"]["stratum"]]
        assert r["inclusion_probability"] == pytest.approx(st["labels"] / st["size"])


def test_importance_draws_match_their_inclusion_probabilities(world) -> None:
    sc, gen, clf = world
    n = 150
    plan = make_plan(gen, clf, plan_prompts(300, 1), n, PlanConfig(design="importance", seed=1))
    assert sum(r["plan"]["draws"] for r in plan.rows) == n
    q = np.array([r["plan"]["q"] for r in plan.rows])
    assert np.all(q > 0) and all(r["plan"]["n_draws"] == n for r in plan.rows)
    # E[distinct items drawn] = sum_i (1 - (1 - q_i)^n): check by redrawing the same design
    uniq = [len(np.unique(importance_sample(plan.pool_scores, clf.threshold, n, target_weights=plan.pool_target,
                                            seed=s).indices)) for s in range(300)]
    assert np.mean(uniq) == pytest.approx(plan.pool_inclusion.sum(), abs=4 * np.std(uniq) / np.sqrt(300) + 0.5)


@pytest.mark.parametrize("design", ["importance", "stratified"])
def test_plan_estimate_is_unbiased_and_its_bound_holds(world, design: str) -> None:
    sc, gen, clf = world
    seeds, held, est, truth = 40, 0, [], []
    for s in range(seeds):
        prompts = plan_prompts(2000, 100 + s)
        plan = make_plan(gen, clf, prompts, 300, PlanConfig(design=design, seed=s))
        t = _pool_truth(sc, gen, prompts, plan, 8, s)
        e = estimate_from_plan(_rows(sc, plan), target=0.01)
        est.append(e.estimate["estimate"])
        truth.append(t)
        held += t <= e.verdict.upper
    assert held / seeds >= 0.95, f"{design}: the reported upper end held in {held}/{seeds} runs"
    diff = np.array(est) - np.array(truth)
    assert abs(diff.mean()) < 3 * diff.std(ddof=1) / np.sqrt(seeds)


def test_plan_labels_still_missing_are_reported(world) -> None:
    sc, gen, clf = world
    plan = make_plan(gen, clf, plan_prompts(400, 2), 60, PlanConfig(design="stratified", seed=2))
    rows = _rows(sc, plan)
    top = max(r.meta["plan"]["stratum"] for r in rows)
    e = estimate_from_plan([r for r in rows if r.meta["plan"]["stratum"] != top])
    assert e.verdict.status == "too_few" and e.estimate is None and e.verdict.more_labels > 0
    plan = make_plan(gen, clf, plan_prompts(400, 2), 60, PlanConfig(seed=2))
    rows = _rows(sc, plan)
    e = estimate_from_plan(rows[: len(rows) // 2])
    assert e.unlabelled == 60 - sum(r.meta["plan"]["draws"] for r in rows[: len(rows) // 2])
    with pytest.raises(ValueError, match="plan"):
        estimate_from_plan([LabelledRow("a", "key 0 x", "variant 0", False)])


def test_coupled_pairs_give_the_exact_win_rate(world) -> None:
    """Judge: the lower-scored completion is better (antisymmetric), so the exact W is known per key."""
    sc, gen, clf = world
    t = clf.threshold
    keys_w = [exact_winrate(sc.cell_probs[k], sc.scores[k] <= t,
                            (sc.scores[k][:, None] < sc.scores[k][None, :]) + 0.5 * (sc.scores[k][:, None] == sc.scores[k][None, :]))
              for k in range(len(sc.key_probs))]
    w_true = float(np.dot(sc.key_probs, keys_w))
    seeds, cover = 40, 0
    for s in range(seeds):
        plan = make_plan(gen, clf, plan_prompts(400, 300 + s), 10, PlanConfig(pool_size=32, seed=s))
        meta = plan.pairs[0]["meta"]
        assert meta["plan_accepted_first"] + meta["plan_pairs"] + meta["plan_refused"] == 400
        comps = [{**p, "outcome": float(clf.score([p["prompt"]], [p["first"]])[0] < clf.score([p["prompt"]], [p["second"]])[0])}
                 for p in plan.pairs]
        wr = coupled_winrate_from_comparisons(comps)["plans"]["plan"]
        assert wr["status"] == "estimate" and wr["judge_calls"] == meta["plan_pairs"]
        expect = (0.5 * meta["plan_accepted_first"] + sum(c["outcome"] for c in comps)) / (400 - meta["plan_refused"])
        assert wr["estimate"] == pytest.approx(expect)
        cover += wr["lower"] <= w_true <= wr["upper"]
        if s == 0:
            part = coupled_winrate_from_comparisons(comps[:-3])["plans"]["plan"]
            assert part["status"] == "too_few" and part["more_comparisons"] == 3 and "estimate" not in part
    assert 0.85 <= cover / seeds <= 1.0


def test_comparisons_without_a_design_are_not_weighted() -> None:
    out = coupled_winrate_from_comparisons([{"prompt": "a", "first": "b", "second": "c", "outcome": 1.0, "meta": {}}])
    assert not out["present"] and out["ignored"] == 1 and "design" in out["reason"]
    assert not coupled_winrate_from_comparisons([])["present"]
