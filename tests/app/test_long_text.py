"""Long completions through the app with a real encoder: score, saliency, suggest, finds, uncertainty queue.

A completion longer than the classifier's window used to fail with "Truncation error: Sequence to
truncate too short"; now the classifier scores it on sliding windows and every route answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import Browser, add_user

LONG = " ".join(["The ferry crossed the grey bay while gulls circled the mast."] * 50)  # ~650 tokens
PROMPT = "Tom picked up the knife."


@pytest.fixture(scope="module")
def long_clf_dir(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny encoder saved as a nines classifier whose threshold accepts everything it scores."""
    import torch

    from nines.classify.encoder import EncoderClassifier

    torch.manual_seed(0)
    clf = EncoderClassifier.from_backbone(str(tiny_encoder_dir), device="cpu")
    clf.threshold = 0.999
    return clf.save(tmp_path_factory.mktemp("long_clf"))


@pytest.fixture
def red_admin(make_app: Any, long_clf_dir: Path) -> tuple[Browser, Browser]:
    app = make_app(classifier=None, classifier_dir=str(long_clf_dir))
    add_user(app, "red", "redteamer")
    add_user(app, "admin", "admin")
    return Browser(app, "red"), Browser(app, "admin")


def test_every_redteam_route_answers_for_a_long_completion(red_admin: tuple[Browser, Browser]) -> None:
    red, _ = red_admin
    body = {"prompt": PROMPT, "completion": LONG}
    score = red.post("/api/redteam/score", body)
    assert score.status_code == 200, score.text
    assert 0.0 <= score.json()["score"] <= 1.0
    sal = red.post("/api/redteam/saliency", body)
    assert sal.status_code == 200, sal.text
    assert sal.json()["method"] == "gradient"
    assert sal.json()["score"] == pytest.approx(score.json()["score"], abs=1e-5)
    for w in sal.json()["words"]:  # offsets index the whole text
        text = PROMPT if w["segment"] == "prompt" else LONG
        assert text[w["start"]:w["end"]] == w["word"]
    last = len(LONG.split()) - 1  # a word near the end, outside the first window
    sug = red.post("/api/redteam/suggest", {**body, "segment": "completion", "index": last, "k": 3})
    assert sug.status_code == 200, sug.text
    assert sug.json()["suggestions"]
    find = red.post("/api/redteam/finds", {**body, "seconds": 3, "key": "find-long-0001"})
    assert find.status_code == 201, find.text


def test_an_uncertainty_queue_over_a_long_completion(red_admin: tuple[Browser, Browser]) -> None:
    _, admin = red_admin
    items = [{"prompt": PROMPT, "completion": c} for c in ("He smiled.", LONG, "He slept.")]
    assert admin.post("/api/admin/snippets", {"dataset": "long", "items": items}).status_code in (200, 201)
    r = admin.post("/api/admin/queues", {"name": "uq-long", "dataset": "long", "strategy": "uncertainty"})
    assert r.status_code == 201, r.text
    assert r.json()["size"] == 3
