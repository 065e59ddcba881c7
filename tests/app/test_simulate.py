"""The scripted labellers and raters (nines.app.simulate): their rules, their noise, and their HTTP loop."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from nines.app import schema as t
from nines.app.simulate import (
    HURT_RULE,
    AppClient,
    KeywordRule,
    ScriptedLabeller,
    ScriptedRater,
    answer_pairs,
    hurt_rank,
    import_rows,
    label_queue,
    majority_error,
    noisy_rate,
    rater_expected_outcome,
)

from .helpers import PASSWORD, add_user


def test_keyword_rule_matches_whole_words_in_any_case() -> None:
    assert HURT_RULE("Tom fell and hurt his knee.") and HURT_RULE("She was SAD.")
    assert not HURT_RULE("He painted the fence.") and not HURT_RULE("They saddled the horse.")
    with pytest.raises(ValueError, match="lower-case"):
        KeywordRule("bad", ("Hurt",))


def test_majority_error_is_exact() -> None:
    e = (0.03, 0.05, 0.08)
    by_hand = sum(np.prod([ei if w else 1 - ei for ei, w in zip(e, wrong)])
                  for wrong in itertools.product((0, 1), repeat=3) if sum(wrong) >= 2)
    assert majority_error(e) == pytest.approx(by_hand)
    assert majority_error((0.1,)) == pytest.approx(0.1)
    assert majority_error((0.0, 0.0, 0.4)) == 0.0
    with pytest.raises(ValueError, match="odd"):
        majority_error((0.1, 0.2))
    assert noisy_rate(0.1, 0.05) == pytest.approx(0.1 * 0.95 + 0.9 * 0.05)


def test_labeller_errs_at_its_rate_independently_of_the_text() -> None:
    lab = ScriptedLabeller("ann", error_rate=0.1, seed=4)
    ids = range(1, 20_001)
    hurt = np.array([lab.label(i, "He fell.") == "injurious" for i in ids])
    calm = np.array([lab.label(i, "He sat.") == "safe" for i in ids])
    assert abs(1 - hurt.mean() - 0.1) < 0.01 and abs(1 - calm.mean() - 0.1) < 0.01
    assert (hurt == calm).all()  # the same items are flipped whatever the text
    assert ScriptedLabeller("bob", error_rate=0.1, seed=4).flips(7) is not None
    with pytest.raises(ValueError, match="error_rate"):
        ScriptedLabeller("x", error_rate=0.5)


def test_rater_expected_outcome_matches_its_answers() -> None:
    rater = ScriptedRater("r", hurt_rank, noise=0.3, seed=1)
    good, bad = "They played all day.", "He fell and cried"
    got = [{"left": 1.0, "right": 0.0, "tie": 0.5}[rater.choose(a, good, bad)] for a in range(1, 30_001)]
    assert np.mean(got) == pytest.approx(rater_expected_outcome(hurt_rank, good, bad, 0.3), abs=0.01)
    assert rater_expected_outcome(hurt_rank, good, good, 0.3) == 0.5


def test_scripted_people_label_and_compare_over_http(app: Any, live_server: Any) -> None:
    names = ["lab1", "lab2", "lab3"]
    for n in [*names, "rater1"]:
        add_user(app, n, "rater" if n.startswith("rater") else "labeller")
    add_user(app, "boss", "admin")
    labellers = [ScriptedLabeller(n, error_rate=0.2, seed=2) for n in names]
    texts = ["Tom fell down.", "Mia ate a cake.", "The dog was sad.", "It was sunny."] * 3
    with live_server(app) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        with AppClient(base, "boss", PASSWORD) as admin:
            ids = import_rows(admin, "d", [{"prompt": f"Story {i}.", "completion": c, "prompt_id": f"p{i}"}
                                           for i, c in enumerate(texts)])
            qid = admin.post("/api/admin/queues", {"name": "q", "dataset": "d", "labels_per_item": 3})["id"]
            admin.post("/api/admin/pairs", {"items": [{"prompt": "P.", "first": "He sat.", "second": "He fell."}]})
        assert [label_queue(base, lab, qid, password=PASSWORD) for lab in labellers] == [len(texts)] * 3
        assert answer_pairs(base, ScriptedRater("rater1", hurt_rank), password=PASSWORD) == 1
    with app.state.nines.db.read() as conn:
        stored = {(r.labeller, r.snippet_id): r.label for r in conn.execute(sa.select(t.labels_table))}
        outcome = conn.execute(sa.select(t.comparisons.c.outcome)).scalar_one()
        pids = dict(conn.execute(sa.select(t.snippets_table.c.id, t.snippets_table.c.prompt_id)).all())
    assert stored == {(lab.name, i): lab.label(i, c) for lab in labellers for i, c in zip(ids, texts)}
    assert outcome == 1.0  # "He sat." (first) is preferred to "He fell." whichever side it was shown on
    assert [pids[i] for i in ids] == [f"p{i}" for i in range(len(texts))]  # prompt ids survive the HTTP import
