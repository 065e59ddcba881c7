"""Accounts: login and logout, cookies, CSRF, the login rate limit, API tokens, invites."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from nines.app import schema as t

from .helpers import PASSWORD, Browser, add_user


def test_login_sets_a_hardened_session_cookie(app: Any, users: dict[str, int]) -> None:
    b = Browser(app)
    r = b.login("lab")
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["username"] == "lab" and body["user"]["roles"] == ["labeller"]
    cookie = r.headers["set-cookie"].lower()
    assert "nines_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    me = b.get("/api/me").json()
    assert me["username"] == "lab" and me["csrf_token"] == body["csrf_token"]


def test_passwords_are_stored_as_argon2id_hashes(app: Any, users: dict[str, int]) -> None:
    with app.state.nines.db.read() as conn:
        stored = conn.execute(sa.select(t.users.c.password_hash).where(t.users.c.username == "lab")).scalar_one()
        sessions = list(conn.execute(sa.select(t.sessions.c.token_hash)).scalars())
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    b = Browser(app, "lab")
    cookie = b.client.cookies.get("nines_session")
    with app.state.nines.db.read() as conn:
        sessions = list(conn.execute(sa.select(t.sessions.c.token_hash)).scalars())
    assert cookie and cookie not in sessions and len(sessions) == 1  # only a hash is kept


def test_wrong_password_and_unknown_user_get_the_same_401(app: Any, users: dict[str, int]) -> None:
    b = Browser(app)
    wrong = b.login("lab", "not the password")
    nobody = b.login("nobody", "not the password")
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["detail"] == nobody.json()["detail"] == "wrong username or password"
    assert b.get("/api/me").status_code == 401


def test_logout_ends_the_session(app: Any, users: dict[str, int]) -> None:
    b = Browser(app, "lab")
    cookie = b.client.cookies.get("nines_session")
    assert b.post("/api/auth/logout").status_code == 200
    assert b.get("/api/me").status_code == 401
    # The old cookie is dead server-side too, not just deleted from this browser.
    other = Browser(app)
    other.client.cookies.set("nines_session", cookie or "")
    assert other.get("/api/me").status_code == 401


def test_cookie_writes_without_the_csrf_token_are_refused(app: Any, users: dict[str, int]) -> None:
    b = Browser(app, "admin")
    r = b.send("POST", "/api/admin/users", {"username": "x1", "password": PASSWORD, "roles": ["rater"]}, csrf=False)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = b.send("POST", "/api/admin/users", {"username": "x1", "password": PASSWORD, "roles": ["rater"]},
               headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert b.post("/api/admin/users", {"username": "x1", "password": PASSWORD, "roles": ["rater"]}).status_code == 201
    assert b.send("POST", "/api/auth/logout", csrf=False).status_code == 403


def test_login_needs_the_login_page_csrf_token(app: Any, users: dict[str, int]) -> None:
    b = Browser(app)
    r = b.client.post("/api/auth/login", json={"username": "lab", "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]


def test_login_is_rate_limited_per_username_and_ip(make_app: Any) -> None:
    app = make_app(login_max_failures=3)
    add_user(app, "lab", "labeller")
    add_user(app, "other", "labeller")
    b = Browser(app)
    for _ in range(3):
        assert b.login("lab", "bad password").status_code == 401
    blocked = b.login("lab", PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0 and "too many" in blocked.json()["detail"]
    assert b.login("other", PASSWORD).status_code == 200  # another username from this IP is not blocked


def test_successful_login_resets_the_failure_count(make_app: Any) -> None:
    app = make_app(login_max_failures=3)
    add_user(app, "lab", "labeller")
    b = Browser(app)
    for _ in range(2):
        b.login("lab", "bad password")
    assert b.login("lab").status_code == 200
    for _ in range(2):
        assert b.login("lab", "bad password").status_code == 401
    assert b.login("lab").status_code == 200


def test_api_tokens_authenticate_scripts_and_can_be_revoked(app: Any, users: dict[str, int]) -> None:
    b = Browser(app, "lab")
    made = b.post("/api/tokens", {"name": "script"})
    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith("nines_")
    script = Browser(app)
    auth = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/me", headers=auth).json()["username"] == "lab"
    # Bearer requests need no CSRF token: a browser never attaches this header by itself.
    assert script.send("POST", "/api/tokens", {"name": "second"}, csrf=False, headers=auth).status_code == 201
    listed = b.get("/api/tokens").json()
    assert {x["name"] for x in listed} == {"script", "second"} and all("token" not in x for x in listed)
    assert b.send("DELETE", f"/api/tokens/{made.json()['id']}").status_code == 200
    r = script.get("/api/me", headers=auth)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert script.get("/api/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(app: Any, users: dict[str, int]) -> None:
    lab = Browser(app, "lab")
    token_id = lab.post("/api/tokens", {"name": "mine"}).json()["id"]
    other = Browser(app, "lab2")
    assert other.send("DELETE", f"/api/tokens/{token_id}").status_code == 404


def test_invite_link_creates_an_account_once(app: Any, users: dict[str, int]) -> None:
    admin = Browser(app, "admin")
    r = admin.post("/api/admin/invites", {"roles": ["rater", "labeller"], "hours": 1})
    assert r.status_code == 201
    url, token = r.json()["url"], r.json()["token"]
    assert url.endswith(f"/invite/{token}")
    guest = Browser(app)
    page = guest.get(f"/invite/{token}")
    assert page.status_code == 200 and "rater" in page.text
    csrf = guest.client.cookies.get("nines_login_csrf") or ""
    body = {"token": token, "username": "newbie", "password": PASSWORD}
    made = guest.client.post("/api/auth/invite", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["user"]["roles"] == ["labeller", "rater"]
    assert guest.get("/api/me").json()["username"] == "newbie"
    again = guest.client.post("/api/auth/invite", json={**body, "username": "twice"}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 404 and "already used" in again.json()["detail"]
    assert "unknown, expired or already used" in Browser(app).get(f"/invite/{token}").text


def test_deactivating_a_user_ends_their_sessions(app: Any, users: dict[str, int]) -> None:
    lab = Browser(app, "lab")
    admin = Browser(app, "admin")
    assert admin.send("PATCH", f"/api/admin/users/{users['lab']}", {"active": False}).status_code == 200
    assert lab.get("/api/me").status_code == 401
    assert Browser(app).login("lab").status_code == 401


def test_weak_passwords_and_bad_usernames_are_refused(app: Any, users: dict[str, int]) -> None:
    admin = Browser(app, "admin")
    short = admin.post("/api/admin/users", {"username": "ok", "password": "short", "roles": ["rater"]})
    assert short.status_code == 422 and "at least 8" in short.json()["detail"]
    bad = admin.post("/api/admin/users", {"username": "<b>x</b>", "password": PASSWORD, "roles": ["rater"]})
    assert bad.status_code == 422
    dup = admin.post("/api/admin/users", {"username": "lab", "password": PASSWORD, "roles": ["rater"]})
    assert dup.status_code == 409
