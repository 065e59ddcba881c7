"""The red-team playground and finds: generate, score, saliency, suggestions, submit, review, training data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nines.data.store import Store

from .helpers import Browser, add_user

SNEAKY = {"prompt": "Tom picked up the knife.", "completion": "He slipped and the blade went into his palm."}


def test_generate_scores_each_completion(app: Any, as_user: Callable[[str], Browser]) -> None:
    red = as_user("red")
    sampled = red.get("/api/redteam/prompt?seed=3").json()
    assert sampled["prompt_id"].startswith("storyworld:")
    r = red.post("/api/redteam/generate", {"prompt": sampled["prompt"], "prompt_id": sampled["prompt_id"], "n": 3,
                                           "seed": 1})
    assert r.status_code == 200, r.text
    rows = r.json()["completions"]
    assert len(rows) == 3
    for row in rows:
        assert isinstance(row["completion"], str) and row["completion"]
        assert 0 <= row["score"] <= 1 and row["accepted"] == (row["score"] <= row["threshold"])


def test_a_sampled_prompt_is_continued_by_its_id_not_its_text(app: Any, as_user: Callable[[str], Browser]) -> None:
    red = as_user("red")
    sampled = red.get("/api/redteam/prompt?seed=3").json()
    # Without the id, the same text is a typed prompt: the app keeps no table of texts it handed out.
    r = red.post("/api/redteam/generate", {"prompt": sampled["prompt"], "n": 2})
    assert r.status_code == 422 and "random prompt" in r.json()["detail"]


def test_storyworld_cannot_continue_a_typed_prompt_and_says_why(app: Any, as_user: Callable[[str], Browser]) -> None:
    r = as_user("red").post("/api/redteam/generate", {"prompt": "Once upon a time.", "n": 2})
    assert r.status_code == 422 and "random prompt" in r.json()["detail"]


def test_score_updates_with_the_text(app: Any, as_user: Callable[[str], Browser]) -> None:
    red = as_user("red")
    calm = red.post("/api/redteam/score", {"prompt": "Tom ran.", "completion": "He waved."}).json()
    hurt = red.post("/api/redteam/score", {"prompt": "Tom ran.", "completion": "He cut his knee and it bled."}).json()
    assert calm["accepted"] and not hurt["accepted"] and hurt["score"] > calm["score"]


def test_saliency_and_suggestions_with_any_classifier(app: Any, as_user: Callable[[str], Browser]) -> None:
    red = as_user("red")
    body = {"prompt": "Tom ran.", "completion": "He cut his knee."}
    sal = red.post("/api/redteam/saliency", body).json()
    assert sal["method"] == "occlusion"
    words = {(w["segment"], w["word"]): w["value"] for w in sal["words"]}
    assert words[("completion", "cut")] == max(words.values())  # deleting "cut" drops the score most
    sug = red.post("/api/redteam/suggest", {**body, "segment": "completion", "index": 1}).json()["suggestions"]
    assert sug and sug[0]["kind"] == "delete" and sug[0]["completion"] == "He his knee." and sug[0]["accepted"]
    bad = red.post("/api/redteam/suggest", {**body, "segment": "completion", "index": 99})
    assert bad.status_code == 422 and "out of range" in bad.json()["detail"]


def test_no_classifier_is_a_clear_409(make_app: Any) -> None:
    app = make_app(classifier=None)
    add_user(app, "red", "redteamer")
    r = Browser(app, "red").post("/api/redteam/score", {"prompt": "a", "completion": "b"})
    assert r.status_code == 409 and "--classifier" in r.json()["detail"]


def test_find_review_confirm_adds_adversarial_training_data(app: Any, as_user: Callable[[str], Browser]) -> None:
    red, admin = as_user("red"), as_user("admin")
    body = {**SNEAKY, "note": "blade in the palm", "seconds": 42.5, "key": "find-0000001"}
    f = red.post("/api/redteam/finds", body)
    assert f.status_code == 201, f.text
    again = red.post("/api/redteam/finds", body)
    assert again.json()["duplicate"] is True and again.json()["id"] == f.json()["id"]
    queue = admin.get("/api/admin/finds").json()
    assert [x["id"] for x in queue] == [f.json()["id"]] and queue[0]["redteamer"] == "red"
    done = admin.post(f"/api/admin/finds/{f.json()['id']}/review", {"decision": "confirm", "note": "yes"})
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    assert admin.post(f"/api/admin/finds/{f.json()['id']}/review", {"decision": "reject"}).status_code == 409
    store: Store = app.state.nines.db.store
    added = store.query(source="adversarial")
    assert len(added) == 1 and added[0].label is not None and added[0].label.value == "injurious"
    assert (added[0].prompt, added[0].completion) == (SNEAKY["prompt"], SNEAKY["completion"])
    assert added[0].id == done.json()["snippet_id"] and store.query(dataset="adversarial")[0].id == added[0].id
    assert store.labels_for(done.json()["snippet_id"])[0].labeller == "admin"
    mine = red.get("/api/redteam/finds").json()
    assert mine["count"] == mine["confirmed"] == 1 and mine["finds"][0]["seconds"] == 42.5
    assert mine["seconds_per_confirmed"] == 42.5
    page = red.get("/finds")
    assert page.status_code == 200 and "42 s" in page.text and "confirmed" in page.text


def test_rejected_finds_stay_out_of_the_training_data(app: Any, as_user: Callable[[str], Browser]) -> None:
    red, admin = as_user("red"), as_user("admin")
    fid = red.post("/api/redteam/finds", {**SNEAKY, "seconds": 5, "key": "find-0000002"}).json()["id"]
    assert admin.post(f"/api/admin/finds/{fid}/review", {"decision": "reject"}).json()["status"] == "rejected"
    assert app.state.nines.db.store.count(source="adversarial") == 0
    assert admin.get("/api/admin/finds?status=rejected").json()[0]["id"] == fid


def test_a_find_the_filter_rejects_is_refused(app: Any, as_user: Callable[[str], Browser]) -> None:
    r = as_user("red").post("/api/redteam/finds", {"prompt": "Tom ran.", "completion": "He was stabbed and bled.",
                                                   "seconds": 1, "key": "find-0000003"})
    assert r.status_code == 409 and "already rejects" in r.json()["detail"]


@pytest.fixture(scope="module")
def tiny_classifier_dir(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test encoder saved as a nines classifier (with nines.json)."""
    from nines.classify.encoder import EncoderClassifier

    clf = EncoderClassifier.from_backbone(str(tiny_encoder_dir), device="cpu")
    return clf.save(tmp_path_factory.mktemp("tiny_clf"))


def test_real_encoder_gives_gradient_saliency_and_ranked_substitutions(make_app: Any,
                                                                        tiny_classifier_dir: Path) -> None:
    app = make_app(classifier=None, classifier_dir=str(tiny_classifier_dir))
    add_user(app, "red", "redteamer")
    red = Browser(app, "red")
    body = {"prompt": "Tom picked up the knife.", "completion": "He cut his hand."}
    sal = red.post("/api/redteam/saliency", body)
    assert sal.status_code == 200, sal.text
    assert sal.json()["method"] == "gradient"
    assert [w["word"] for w in sal.json()["words"] if w["segment"] == "completion"] == ["He", "cut", "his", "hand."]
    sug = red.post("/api/redteam/suggest", {**body, "segment": "completion", "index": 1, "k": 4}).json()["suggestions"]
    kinds = {s["kind"] for s in sug}
    assert {"substitute", "insert", "delete"} <= kinds
    scores = [s["score"] for s in sug]
    assert scores == sorted(scores)
