"""The store side of the plan: import, the app's queue and pairs serve it, labels and comparisons come back.

Labellers and raters act through the app's own functions (its queue hands items out, its pairwise
module records blind comparisons); the estimate then reads the store alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from labelled_sim import ScenarioClassifier, ScenarioGenerator, plan_prompts, scenario

from nines.recipes.labels_eval import LabelsEvaluateConfig, evaluate_labels, write_plan
from pg import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, and PostgreSQL when $NINES_TEST_POSTGRES_URL is set."""
    yield from fresh_database(request.param, f"sqlite:///{tmp_path / 'n.db'}")


def test_plan_through_the_store_queue_and_pairs(db_url: str, tmp_path: Path) -> None:
    from nines.app import accounts, labelling, pairwise
    from nines.app.db import Database
    from nines.app.security import Passwords

    sc = scenario()
    gen, clf = ScenarioGenerator(sc), ScenarioClassifier(sc)
    url = db_url
    cfg = LabelsEvaluateConfig()
    cfg.plan.design, cfg.plan.pool_size = "stratified", 6
    out = write_plan(gen, clf, plan_prompts(120, 4), 50, cfg, tmp_path / "plan", store=f"{url}#p1")
    assert out.store is not None and out.store["rows"] == 50 and out.store["pair_tasks"] == len(out.plan.pairs) > 0
    with pytest.raises(ValueError, match="already has a dataset 'p1'"):
        write_plan(gen, clf, plan_prompts(10, 5), 5, cfg, tmp_path / "again", store=f"{url}#p1")

    db = Database(url)
    try:
        with db.write() as conn:
            user = accounts.create_user(conn, Passwords(time_cost=1, memory_kib=1024), "rater", "a-long-password-1",
                                        ["labeller", "rater"])
        with db.read() as conn:
            queue = next(q for q in labelling.list_queues(conn) if q["name"] == "p1")
        assert queue["size"] == 50 and queue["dataset"] == "p1"
        while (pair := pairwise.next_pair(db, user)) is not None:
            pairwise.answer(db, user, pair["assignment_id"], "left", f"k{pair['assignment_id']}")
        served = 0
        while (item := labelling.next_item(db, queue["id"], user, lease_minutes=10)) is not None:
            y = bool(sc.labels[int(item["prompt"].split()[1]), int(item["completion"].split()[1])])
            labelling.submit(db, queue["id"], user, item["snippet_id"], "injurious" if y else "safe", None,
                             f"l{item['snippet_id']}")
            served += 1
        assert served == 50  # the queue served every planned row, once
    finally:
        db.close()
    ev = evaluate_labels(f"{url}#p1", clf, gen, cfg).to_dict()
    assert ev["plan"]["labels"] == 50 and ev["plan"]["design"] == "stratified" and ev["plan"]["unlabelled"] == 0
    w = ev["winrate"]["plans"]["p1"]
    assert ev["winrate"]["present"] and w["status"] == "estimate" and w["compared"] == w["pairs"]
    assert w["n_prompts"] == w["accepted_first"] + w["pairs"]
    assert 0.0 <= w["lower"] <= w["estimate"] <= w["upper"] <= 1.0
