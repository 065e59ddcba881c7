"""Blind pairwise comparisons: random order, ties, idempotency, export for RecordedJudge."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nines.app.exports import recorded_judge
from nines.app.pairwise import outcome_for
from nines.judge.recorded import RecordedJudge

from .helpers import Browser


def _pairs(n: int) -> list[dict[str, str]]:
    return [{"prompt": f"Prompt {i}.", "first": f"first {i}", "second": f"second {i}"} for i in range(n)]


def test_pairs_are_shown_in_blind_random_order(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin, rater = as_user("admin"), as_user("rater")
    assert admin.post("/api/admin/pairs", {"items": _pairs(40)}).status_code == 201
    lefts = []
    for _ in range(40):
        pair = rater.get("/api/pairs/next").json()["pair"]
        assert set(pair) == {"assignment_id", "question", "prompt", "left", "right"}  # nothing says which is which
        assert "better continuation" in pair["question"]
        lefts.append(pair["left"].startswith("first"))
        r = rater.post(f"/api/pairs/{pair['assignment_id']}/answer", {"choice": "left", "key": f"pair-key-{_}"})
        assert r.status_code == 201
        # Always picking the left one means "first" wins exactly when first was shown left.
        assert r.json()["outcome"] == (1.0 if lefts[-1] else 0.0)
    assert rater.get("/api/pairs/next").json()["pair"] is None
    assert 5 < sum(lefts) < 35  # both orders occur (P(fail) < 1e-6 for a fair coin)


def test_the_same_pair_comes_back_until_answered_and_answers_are_idempotent(
        app: Any, as_user: Callable[[str], Browser]) -> None:
    admin, rater = as_user("admin"), as_user("rater")
    admin.post("/api/admin/pairs", {"items": _pairs(2)})
    pair = rater.get("/api/pairs/next").json()["pair"]
    assert rater.get("/api/pairs/next").json()["pair"] == pair
    url = f"/api/pairs/{pair['assignment_id']}/answer"
    first = rater.post(url, {"choice": "tie", "key": "tie-key-001"})
    again = rater.post(url, {"choice": "tie", "key": "tie-key-001"})
    assert first.json()["outcome"] == 0.5 and again.json()["duplicate"] is True
    assert rater.post(url, {"choice": "left", "key": "tie-key-002"}).status_code == 409
    assert admin.get("/api/admin/dashboard").json()["pairwise"]["comparisons"] == 1


def test_outcome_is_relative_to_first() -> None:
    assert outcome_for("left", True) == 1.0 and outcome_for("right", True) == 0.0
    assert outcome_for("left", False) == 0.0 and outcome_for("right", False) == 1.0
    assert outcome_for("tie", True) == outcome_for("tie", False) == 0.5


def test_wanted_ratings_per_pair(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    admin.post("/api/admin/pairs", {"items": _pairs(1), "wanted": 2})
    for name in ("rater", "admin"):
        b = as_user(name)
        pair = b.get("/api/pairs/next").json()["pair"]
        b.post(f"/api/pairs/{pair['assignment_id']}/answer", {"choice": "right", "key": f"k-{name}-0001"})
    assert Browser(app, "rater").get("/api/pairs/next").json()["pair"] is None


def test_export_feeds_the_recorded_judge(app: Any, as_user: Callable[[str], Browser], tmp_path: Path) -> None:
    admin, rater = as_user("admin"), as_user("rater")
    admin.post("/api/admin/pairs", {"items": _pairs(3)})
    want = {}
    for choice in ("left", "right", "tie"):
        pair = rater.get("/api/pairs/next").json()["pair"]
        out = rater.post(f"/api/pairs/{pair['assignment_id']}/answer", {"choice": choice, "key": f"k-{choice}-001"})
        want[pair["prompt"]] = out.json()["outcome"]
    r = admin.get("/api/admin/export/comparisons.jsonl")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(r.content)
    judge = RecordedJudge(path)
    prompts = sorted(want)
    firsts = [p.replace("Prompt", "first").rstrip(".") for p in prompts]
    seconds = [p.replace("Prompt", "second").rstrip(".") for p in prompts]
    assert np.allclose(judge.compare(prompts, firsts, seconds), [want[p] for p in prompts])
    assert np.allclose(judge.compare(prompts, seconds, firsts), [1 - want[p] for p in prompts])
    judge2 = recorded_judge(app.state.nines.db, tmp_path / "again.jsonl")
    assert len(judge2) == 3
    dash = admin.get("/api/admin/dashboard").json()["pairwise"]
    assert dash["ties"] == 1 and abs(dash["first_win_rate"]["estimate"] - sum(want.values()) / 3) < 1e-9
