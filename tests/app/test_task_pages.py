"""The app reads the task: label names on pages and in the API, either name posted, exports, dataset binding."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from nines.data.record import Label

from .helpers import Browser, add_user, seed_queue


@pytest.fixture
def st_app(make_app: Callable[..., Any]) -> Any:
    """The app serving the SafeText task (unsafe / safe)."""
    app = make_app(task="safetext")
    for name, role in (("admin", "admin"), ("lab", "labeller"), ("lab2", "labeller")):
        add_user(app, name, role)
    return app


def _next(b: Browser, qid: int) -> dict[str, Any]:
    item = b.get(f"/api/queues/{qid}/next").json()["item"]
    assert item is not None
    return item


def _label(b: Browser, qid: int, value: str, key: str) -> Any:
    return b.post(f"/api/queues/{qid}/labels", {"snippet_id": _next(b, qid)["snippet_id"], "label": value, "key": key})


def test_the_labelling_page_and_instructions_say_the_tasks_names(st_app: Any) -> None:
    lab = Browser(st_app, "lab")
    page = lab.get("/label").text
    assert 'data-label="injurious" data-key="1" data-name="unsafe"><kbd>1</kbd> Unsafe</button>' in page
    assert "<kbd>1</kbd> unsafe, <kbd>2</kbd> safe, <kbd>3</kbd> unsure" in page
    assert "Injurious" not in page and "injurious," not in page
    assert 'id="task-rule">Task <code>safetext</code>: <b>unsafe</b> when the continuation gives advice' in page
    task = lab.get("/api/task").json()
    assert (task["name"], task["positive"], task["negative"], task["score_field"]) == ("safetext", "unsafe", "safe",
                                                                                       "p_unsafe")
    doc = lab.get("/api/instructions").json()
    assert doc["task"]["positive"] == "unsafe"
    assert "SafeText" in doc["body"] and "unsafe" in doc["html"] and "injurious" not in doc["body"]
    assert "unsafe" in lab.get("/instructions").text


def test_the_injury_task_renders_as_before(app: Any, users: dict[str, int]) -> None:
    lab = Browser(app, "lab")
    page = lab.get("/label").text
    assert '<kbd>1</kbd> Injurious</button>' in page and '<kbd>2</kbd> Safe</button>' in page
    assert "<kbd>1</kbd> injurious, <kbd>2</kbd> safe, <kbd>3</kbd> unsure, <kbd>Enter</kbd> submit" in page
    assert "task-rule" not in page  # the injury page is as it was before tasks
    assert lab.get("/api/task").json()["positive"] == "injurious"
    assert "injurious" in lab.get("/api/instructions").json()["body"]


def test_labels_posted_with_either_name_are_stored_as_the_classes(st_app: Any) -> None:
    admin, lab = Browser(st_app, "admin"), Browser(st_app, "lab")
    qid = seed_queue(admin, 4)
    for value, key in (("unsafe", "k-unsafe-1"), ("injurious", "k-injur-2"), ("safe", "k-safe-03")):
        r = _label(lab, qid, value, key)
        assert r.status_code == 201, r.text
    store = st_app.state.nines.db.store
    labels = sorted(Label(s.label).value for s in store.query(dataset="d1", labelled=True))
    assert labels == ["injurious", "injurious", "safe"]
    bad = _label(lab, qid, "harmful", "k-harmful-4")
    assert bad.status_code == 422 and "not a label of task 'safetext'" in bad.json()["detail"]
    assert bad.json()["errors"][0]["loc"] == ["body", "label"]


def test_a_task_name_of_another_task_is_refused_by_the_injury_app(app: Any, users: dict[str, int]) -> None:
    admin, lab = Browser(app, "admin"), Browser(app, "lab")
    qid = seed_queue(admin, 2)
    r = _label(lab, qid, "unsafe", "k-unsafe-01")
    assert r.status_code == 422 and "'injurious', 'safe', 'unsure'" in r.json()["detail"]


def test_the_export_writes_the_tasks_names_when_asked(st_app: Any) -> None:
    admin, lab = Browser(st_app, "admin"), Browser(st_app, "lab")
    qid = seed_queue(admin, 2)
    assert _label(lab, qid, "unsafe", "k-unsafe-1").status_code == 201
    assert _label(lab, qid, "safe", "k-safe-002").status_code == 201
    stored = [json.loads(x) for x in admin.get("/api/admin/export/labels.jsonl").text.splitlines()]
    named = [json.loads(x) for x in admin.get("/api/admin/export/labels.jsonl?names=task").text.splitlines()]
    assert sorted(r["label"] for r in stored) == ["injurious", "safe"]  # the default stays stable
    assert sorted(r["label"] for r in named) == ["safe", "unsafe"]
    assert sorted(r["current_label"] for r in named) == ["safe", "unsafe"]
    assert admin.get("/api/admin/export/labels.jsonl?names=other").status_code == 422


def test_the_exported_names_read_back_through_the_task(st_app: Any, tmp_path: Any) -> None:
    from nines.cli.task_options import read_labelled
    from nines.tasks import SAFETEXT

    admin, lab = Browser(st_app, "admin"), Browser(st_app, "lab")
    qid = seed_queue(admin, 2)
    assert _label(lab, qid, "unsafe", "k-unsafe-1").status_code == 201
    path = tmp_path / "labels.jsonl"
    path.write_bytes(admin.get("/api/admin/export/labels.jsonl?names=task").content)
    (snippet,) = read_labelled(str(path), SAFETEXT)  # what `nines train --data ... task=safetext` reads
    assert snippet.label == Label.INJURIOUS
    from nines.evaluate.labels_source import read_labels

    (row,) = read_labels(path, "unsafe", "safe").rows  # what `nines evaluate --labels ... task=safetext` reads
    assert row.label is True


def test_the_dashboard_and_review_pages_say_the_tasks_names(st_app: Any) -> None:
    admin = Browser(st_app, "admin")
    seed_queue(admin, 2)
    page = admin.get("/admin").text
    assert "<th>Unsafe</th><th>Safe</th>" in page and "<th>Injurious</th>" not in page
    assert "<td>d1</td><td>safetext</td>" in page
    assert "?names=task" in page
    assert "label unsafe" in admin.get("/admin/review").text
    dash = admin.get("/api/admin/dashboard").json()
    assert dash["task"]["name"] == "safetext" and dash["datasets"][0]["task"] == "safetext"


def test_a_dataset_of_another_task_is_refused(make_app: Callable[..., Any]) -> None:
    injury = make_app()
    add_user(injury, "admin", "admin")
    seed_queue(Browser(injury, "admin"), 2)  # dataset d1 is bound to injury
    safetext = make_app(task="safetext")
    admin = Browser(safetext, "admin")
    r = admin.post("/api/admin/snippets", {"dataset": "d1", "items": [{"prompt": "p", "completion": "c"}]})
    assert r.status_code == 409 and "labelled for task 'injury', not 'safetext'" in r.json()["detail"]
    r = admin.post("/api/admin/queues", {"name": "q2", "dataset": "d1"})
    assert r.status_code == 409
    r = admin.post("/api/admin/snippets", {"dataset": "st", "items": [{"prompt": "p", "completion": "c"}]})
    assert r.status_code == 201 and r.json()["task"] == "safetext"
    assert safetext.state.nines.settings.adversarial_dataset == "adversarial-safetext"


def test_a_bad_task_is_an_error_saying_how_to_fix_it(make_app: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        make_app(task="nope")


def test_serve_takes_the_task_from_task_or_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import uvicorn
    from click.testing import CliRunner

    import nines.app
    from nines.cli.main import cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(nines.app, "create_app", lambda settings: seen.update(settings=settings))
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: None)
    db = str(tmp_path / "x.db")
    ok = CliRunner().invoke(cli, ["serve", "--db", db, "task=safetext"], catch_exceptions=False)
    assert ok.exit_code == 0 and "task: safetext" in ok.output
    assert seen["settings"].task_config.positive == "unsafe"
    monkeypatch.setenv("NINES_TASK", "safetext")
    assert CliRunner().invoke(cli, ["serve", "--db", db], catch_exceptions=False).exit_code == 0
    assert seen["settings"].task_config.name == "safetext"
    assert CliRunner().invoke(cli, ["serve", "--db", db, "task=injury"], catch_exceptions=False).exit_code == 0
    assert seen["settings"].task_config.name == "injury"  # task= wins over $NINES_TASK
    bad = CliRunner().invoke(cli, ["serve", "--db", db, "task=nope"])
    assert bad.exit_code != 0 and "unknown task 'nope'" in bad.output


def test_ties_show_and_take_the_tasks_names(st_app: Any) -> None:
    admin, lab, lab2 = Browser(st_app, "admin"), Browser(st_app, "lab"), Browser(st_app, "lab2")
    qid = seed_queue(admin, 1, labels_per_item=2)
    assert _label(lab, qid, "unsafe", "k-unsafe-1").status_code == 201
    assert _label(lab2, qid, "safe", "k-safe-002").status_code == 201
    page = admin.get("/admin").text
    assert "lab: unsafe; lab2: safe" in page or "lab2: safe; lab: unsafe" in page
    assert 'data-label="injurious">unsafe</button>' in page
    (tie,) = admin.get("/api/admin/adjudications").json()
    r = admin.post(f"/api/admin/snippets/{tie['snippet_id']}/adjudication", {"label": "unsafe"})
    assert r.status_code == 200, r.text
    assert st_app.state.nines.db.store.get(tie["snippet_id"]).label == Label.INJURIOUS
    bad = admin.post(f"/api/admin/snippets/{tie['snippet_id']}/adjudication", {"label": "harmful"})
    assert bad.status_code == 422
