"""Helpers for the web-app tests: a logged-in test browser, a stand-in classifier, quick set-up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from nines.app import accounts
from nines.app.settings import AppSettings
from pg import PG_ENV, reset_postgres  # noqa: F401 - re-exported for the app tests

PASSWORD = "correct horse battery"
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)"><b>bold</b> & "quotes"'


class KeywordClassifier:
    """A stand-in classifier: high score when the completion has an injury word, low otherwise."""

    WORDS = ("cut", "stabbed", "bled", "broke", "died", "killed", "hurt", "wound")

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        out = []
        for c in completions:
            hits = sum(w in c.lower() for w in self.WORDS)
            out.append(min(0.95, 0.1 + 0.45 * hits) if hits else 0.05 + min(0.3, 0.001 * len(c)))
        return np.asarray(out, dtype=float)


def fast_settings(db_url: str, **kwargs: Any) -> AppSettings:
    """Settings with a cheap KDF (tests create many accounts) and no run folder scanning."""
    base: dict[str, Any] = {"kdf_time_cost": 1, "kdf_memory_kib": 8, "runs_dir": None}
    base.update(kwargs)
    return AppSettings(db_url=db_url, **base)


class Browser:
    """A TestClient with its own cookie jar, logged in as one user, sending the CSRF header."""

    def __init__(self, app: Any, username: str | None = None, password: str = PASSWORD) -> None:
        self.client = TestClient(app, raise_server_exceptions=False)
        self.csrf = ""
        if username is not None:
            r = self.login(username, password)
            assert r.status_code == 200, r.text

    def login(self, username: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/login")
        assert page.status_code == 200
        token = self.client.cookies.get("nines_login_csrf")
        r = self.client.post("/api/auth/login", json={"username": username, "password": password},
                             headers={"X-CSRF-Token": token or ""})
        if r.status_code == 200:
            self.csrf = r.json()["csrf_token"]
        return r

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def send(self, method: str, url: str, json: Any = None, csrf: bool = True, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        if csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.client.request(method, url, json=json, headers=headers, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.send("POST", url, json, **kw)


def add_user(app: Any, name: str, roles: str) -> int:
    """Create an account directly in the database (fast) and return its id."""
    ctx = app.state.nines
    with ctx.db.write() as conn:
        return accounts.create_user(conn, ctx.passwords, name, PASSWORD, roles).id


def seed_queue(admin: Browser, n: int = 5, labels_per_item: int = 1, dataset: str = "d1", name: str = "q1",
               prompt: str = "Tom went to the park.", strategy: str = "sequential") -> int:
    """Add ``n`` snippets and a queue over them; returns the queue id."""
    items = [{"prompt": f"{prompt} ({i})", "completion": f"He fed duck number {i}."} for i in range(n)]
    r = admin.post("/api/admin/snippets", {"dataset": dataset, "items": items})
    assert r.status_code == 201, r.text
    r = admin.post("/api/admin/queues", {"name": name, "dataset": dataset, "strategy": strategy,
                                         "labels_per_item": labels_per_item})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def label_all(browser: Browser, queue_id: int, label: str = "safe", limit: int = 1000) -> int:
    """Label every item the queue hands this browser; returns how many."""
    done = 0
    for i in range(limit):
        item = browser.get(f"/api/queues/{queue_id}/next").json()["item"]
        if item is None:
            return done
        r = browser.post(f"/api/queues/{queue_id}/labels",
                         {"snippet_id": item["snippet_id"], "label": label, "key": f"key-{label}-{queue_id}-{i}"})
        assert r.status_code == 201, r.text
        done += 1
    return done
