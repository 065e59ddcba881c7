"""Bad input to the API gets a 4xx with a message, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .helpers import Browser, seed_queue


@pytest.fixture
def admin(app: Any, as_user: Callable[[str], Browser]) -> Browser:
    b = as_user("admin")
    seed_queue(b, 2)
    return b


def _check(r: Any, *codes: int) -> dict[str, Any]:
    assert r.status_code in codes, (r.status_code, r.text[:300])
    body = r.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body


def test_malformed_json_is_a_422_with_a_message(admin: Browser) -> None:
    for raw in (b"{not json", b"", b"[1, 2", b"\xff\xfe", b"null", b"[]", b'"a string"'):
        r = admin.send("POST", "/api/queues/1/labels", content=raw, headers={"Content-Type": "application/json"})
        _check(r, 400, 422)
    r = admin.send("POST", "/api/queues/1/labels", content=b"{not json", headers={"Content-Type": "application/json"})
    assert "not valid JSON" in r.json()["detail"]


def test_deeply_nested_json_is_refused_cleanly(admin: Browser) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    _check(admin.send("POST", "/api/admin/pairs", content=raw, headers={"Content-Type": "application/json"}), 400, 422)


@pytest.mark.parametrize("body", [
    {"snippet_id": "one", "label": "safe", "key": "abcdefgh"},
    {"snippet_id": 1, "label": "maybe", "key": "abcdefgh"},
    {"snippet_id": 1, "label": "safe", "key": "short"},
    {"snippet_id": 1, "label": "safe", "key": "has spaces in it"},
    {"snippet_id": 1, "label": "safe"},
    {"snippet_id": 0, "label": "safe", "key": "abcdefgh"},
    {"snippet_id": 10**40, "label": "safe", "key": "abcdefgh"},
    {"snippet_id": 1.5, "label": "safe", "key": "abcdefgh"},
    {"snippet_id": 1, "label": "safe", "key": "abcdefgh", "extra": True},
    {"snippet_id": 1, "label": "safe", "key": "abcdefgh", "note": "x" * 5000},
    {"snippet_id": 1, "label": "safe", "key": "abcdefgh", "note": "nul\x00byte"},
    {"snippet_id": 1, "label": "safe", "key": "abcdefgh", "note": ["list"]},
])
def test_wrong_types_and_values_are_422(admin: Browser, body: dict[str, Any]) -> None:
    got = _check(admin.post("/api/queues/1/labels", body), 422)
    assert got["errors"] and all("loc" in e for e in got["errors"])


def test_lone_surrogates_and_nan_are_refused(admin: Browser) -> None:
    raw = b'{"dataset": "d", "items": [{"prompt": "\\ud800", "completion": "c"}]}'
    _check(admin.send("POST", "/api/admin/snippets", content=raw, headers={"Content-Type": "application/json"}), 422)
    raw = b'{"dataset": "d", "items": [{"prompt": "p", "completion": "c", "metadata": {"x": NaN}}]}'
    _check(admin.send("POST", "/api/admin/snippets", content=raw, headers={"Content-Type": "application/json"}), 422)
    raw = b'{"dataset": "d", "items": [{"prompt": "p", "completion": "c", "metadata": {"x": "\\u0000"}}]}'
    _check(admin.send("POST", "/api/admin/snippets", content=raw, headers={"Content-Type": "application/json"}), 422)


def test_huge_bodies_are_413(admin: Browser) -> None:
    big = {"dataset": "d", "items": [{"prompt": "p" * 15_000, "completion": "c"}] * 100}  # ~1.5 MB
    body = _check(admin.post("/api/admin/snippets", big), 413)
    assert "limit" in body["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
        yield b'{"dataset": "d", "items": ['
        for _ in range(200):
            yield b'{"prompt": "' + b"p" * 10_000 + b'", "completion": "c"},'
        yield b'{"prompt": "p", "completion": "c"}]}'

    r = admin.send("POST", "/api/admin/snippets", content=chunks(), headers={"Content-Type": "application/json"})
    _check(r, 413)


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/queues/999/next", None),
    ("POST", "/api/queues/999/labels", {"snippet_id": 1, "label": "safe", "key": "abcdefgh"}),
    ("POST", "/api/queues/1/labels", {"snippet_id": 999, "label": "safe", "key": "abcdefgh"}),
    ("POST", "/api/queues/999/undo", None),
    ("PATCH", "/api/admin/users/999", {"active": False}),
    ("PATCH", "/api/admin/queues/999", {"active": False}),
    ("GET", "/api/admin/queues/999/agreement", None),
    ("POST", "/api/admin/finds/999/review", {"decision": "confirm"}),
    ("POST", "/api/pairs/999/answer", {"choice": "tie", "key": "abcdefgh"}),
    ("GET", "/api/redteam/finds/999", None),
    ("DELETE", "/api/tokens/999", None),
    ("GET", "/api/admin/export/labels.jsonl?dataset=nope", None),
    ("GET", "/api/nothing-here", None),
])
def test_unknown_ids_are_404_with_a_message(admin: Browser, method: str, path: str, body: Any) -> None:
    _check(admin.send(method, path, body), 404)


@pytest.mark.parametrize("path", ["/api/queues/abc/next", "/api/queues/-1/next", f"/api/queues/{2**40}/next",
                                  "/api/redteam/finds/1e3"])
def test_malformed_path_ids_are_422(admin: Browser, path: str) -> None:
    _check(admin.get(path), 422)


def test_wrong_method_and_content_length_are_4xx(admin: Browser) -> None:
    assert admin.send("DELETE", "/api/queues").status_code == 405
    r = admin.send("POST", "/api/queues/1/labels", content=b"{}",
                   headers={"Content-Type": "application/json", "Content-Length": "abc"})
    assert 400 <= r.status_code < 500
