"""Authorization: each role reaches only its pages and endpoints; nobody sees another user's data."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Browser, seed_queue

ROLES = ("admin", "labeller", "rater", "redteamer")
ACCOUNT = {"admin": "admin", "labeller": "lab", "rater": "rater", "redteamer": "red"}

# (method, path, body, the role it needs; None = any logged-in user)
ENDPOINTS: list[tuple[str, str, Any, str | None]] = [
    ("GET", "/api/me", None, None),
    ("GET", "/api/instructions", None, None),
    ("GET", "/api/task", None, None),
    ("GET", "/api/tokens", None, None),
    ("GET", "/api/admin/users", None, "admin"),
    ("POST", "/api/admin/users", {"username": "zz", "password": "long enough pw", "roles": ["rater"]}, "admin"),
    ("PATCH", "/api/admin/users/1", {"active": True}, "admin"),
    ("GET", "/api/admin/users/2/labels", None, "admin"),
    ("POST", "/api/admin/invites", {"roles": ["rater"]}, "admin"),
    ("PUT", "/api/admin/instructions", {"body": "# hi"}, "admin"),
    ("POST", "/api/admin/snippets", {"dataset": "dz", "items": [{"prompt": "p", "completion": "c"}]}, "admin"),
    ("GET", "/api/admin/queues", None, "admin"),
    ("GET", "/api/admin/queues/1/agreement", None, "admin"),
    ("POST", "/api/admin/pairs", {"items": [{"prompt": "p", "first": "a", "second": "b"}]}, "admin"),
    ("GET", "/api/admin/finds", None, "admin"),
    ("GET", "/api/admin/dashboard", None, "admin"),
    ("GET", "/api/admin/export/labels.jsonl", None, "admin"),
    ("GET", "/api/admin/export/comparisons.jsonl", None, "admin"),
    ("GET", "/api/queues", None, "labeller"),
    ("GET", "/api/queues/1/next", None, "labeller"),
    ("GET", "/api/my/labels", None, "labeller"),
    ("GET", "/api/pairs/next", None, "rater"),
    ("POST", "/api/redteam/score", {"prompt": "p", "completion": "c"}, "redteamer"),
    ("POST", "/api/redteam/saliency", {"prompt": "p", "completion": "c"}, "redteamer"),
    ("GET", "/api/redteam/finds", None, "redteamer"),
]
PAGES: list[tuple[str, str | None]] = [
    ("/label", "labeller"), ("/compare", "rater"), ("/playground", "redteamer"), ("/finds", "redteamer"),
    ("/admin", "admin"), ("/admin/users", "admin"), ("/admin/review", "admin"), ("/admin/instructions", "admin"),
    ("/instructions", None), ("/tokens", None),
]


@pytest.fixture
def world(app: Any, users: dict[str, int]) -> dict[str, Browser]:
    """Logged-in browsers for every role, with one queue in place."""
    browsers = {role: Browser(app, ACCOUNT[role]) for role in ROLES}
    seed_queue(browsers["admin"], 2)
    return browsers


def test_every_endpoint_admits_exactly_its_roles(app: Any, world: dict[str, Browser]) -> None:
    failures = []
    for method, path, body, needed in ENDPOINTS:
        for role in ROLES:
            r = world[role].send(method, path, body)
            allowed = needed is None or role == "admin" or role == needed
            ok = r.status_code not in (401, 403) if allowed else r.status_code == 403
            if not ok or r.status_code >= 500:
                failures.append(f"{role} {method} {path}: {r.status_code} {r.text[:100]}")
    assert not failures, "\n".join(failures)


def test_logged_out_requests_get_401_and_no_data(app: Any, world: dict[str, Browser]) -> None:
    anon = Browser(app)
    for method, path, body, _ in ENDPOINTS:
        r = anon.send(method, path, body, csrf=False)
        assert r.status_code == 401, (method, path, r.status_code)
        assert set(r.json()) == {"detail"}, (method, path)


def test_pages_redirect_logged_out_users_and_refuse_other_roles(app: Any, world: dict[str, Browser]) -> None:
    anon = Browser(app)
    for path, needed in PAGES:
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
        for role in ROLES:
            r = world[role].get(path, follow_redirects=False)
            allowed = needed is None or role in ("admin", needed)
            assert r.status_code == (200 if allowed else 403), (role, path, r.status_code)


def test_admin_pages_do_not_leak_to_labellers(app: Any, world: dict[str, Browser]) -> None:
    r = world["labeller"].get("/admin")
    assert r.status_code == 403 and "Dashboard" not in r.text and "labels given in the app" not in r.text


def test_labellers_see_only_their_own_labels(app: Any, users: dict[str, int], world: dict[str, Browser]) -> None:
    lab, lab2 = world["labeller"], Browser(app, "lab2")
    item = lab.get("/api/queues/1/next").json()["item"]
    assert lab.post("/api/queues/1/labels", {"snippet_id": item["snippet_id"], "label": "safe",
                                             "key": "lab-key-0001", "note": "private note"}).status_code == 201
    assert len(lab.get("/api/my/labels").json()) == 1
    assert lab2.get("/api/my/labels").json() == []
    assert lab2.get(f"/api/admin/users/{users['lab']}/labels").status_code == 403
    assert len(world["admin"].get(f"/api/admin/users/{users['lab']}/labels").json()) == 1
    # lab2's undo cannot withdraw lab's label.
    assert lab2.post("/api/queues/1/undo").status_code == 404
    assert len(lab.get("/api/my/labels").json()) == 1


def test_raters_cannot_answer_someone_elses_pair(app: Any, users: dict[str, int], world: dict[str, Browser]) -> None:
    world["admin"].post("/api/admin/pairs", {"items": [{"prompt": "p", "first": "a", "second": "b"}], "wanted": 2})
    pair = world["rater"].get("/api/pairs/next").json()["pair"]
    other = Browser(app, "admin")  # admins hold every role, yet the assignment is the rater's
    r = other.post(f"/api/pairs/{pair['assignment_id']}/answer", {"choice": "tie", "key": "other-key-1"})
    assert r.status_code == 404


def test_redteamers_cannot_see_each_others_finds(app: Any, users: dict[str, int], world: dict[str, Browser]) -> None:
    red, red2 = world["redteamer"], Browser(app, "red2")
    f = red.post("/api/redteam/finds", {"prompt": "Tom ran.", "completion": "He tripped on a wire.",
                                        "seconds": 3, "key": "find-key-01"})
    assert f.status_code == 201, f.text
    fid = f.json()["id"]
    assert red.get(f"/api/redteam/finds/{fid}").status_code == 200
    assert red2.get(f"/api/redteam/finds/{fid}").status_code == 404
    assert red2.get("/api/redteam/finds").json()["count"] == 0
    assert world["admin"].get(f"/api/redteam/finds/{fid}").status_code == 200
