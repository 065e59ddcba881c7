"""Issue 15, items 2, 3, 4 and 6: login limits, proxy headers, redirects, usernames, tokens, invites, HSTS.

API tests run on SQLite and (with $NINES_TEST_POSTGRES_URL) PostgreSQL. The concurrency and
proxy-header cases run real parallel requests against a live uvicorn server; for the proxy case
the server is started by the ``nines serve`` verb itself (only ``uvicorn.run`` is intercepted to run
it on a thread), so the test proves the CLI's uvicorn options.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from conftest import free_port
from nines.app import schema as t

from .helpers import PASSWORD, Browser, add_user

# --------------------------------------------------------------------------- helpers


def _client(app: Any, ip: str) -> TestClient:
    """A test client whose socket address is ``ip``."""
    return TestClient(app, raise_server_exceptions=False, client=(ip, 40000))


def _login(client: TestClient | httpx.Client, username: str, password: str = PASSWORD,
           headers: dict[str, str] | None = None) -> Any:
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    return client.post("/api/auth/login", json={"username": username, "password": password},
                       headers={"X-CSRF-Token": csrf, **(headers or {})})


class CountingPasswords:
    """Wraps the app's hasher and counts password checks (the slow, attackable part)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.checks = 0
        self._lock = threading.Lock()

    def verify(self, encoded: str | None, password: str) -> bool:
        with self._lock:
            self.checks += 1
        return bool(self.inner.verify(encoded, password))

    def hash(self, password: str) -> str:
        return str(self.inner.hash(password))


class _Thread:
    """A uvicorn server on a thread, from a ``uvicorn.Config``."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Thread:
        self.thread.start()
        deadline = time.time() + 15
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 15 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def served_by_cli(app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> Iterator[str]:
    """Run ``nines serve ARGS`` for ``app``: the CLI builds the uvicorn options, a thread serves them."""
    import uvicorn

    import nines.app
    from nines.cli.main import cli

    captured: dict[str, Any] = {}
    seen: dict[str, Any] = {}

    def fake_create_app(settings: Any) -> Any:
        seen["settings"] = settings
        return app

    monkeypatch.setattr(nines.app, "create_app", fake_create_app)
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: captured.update(app=asgi, **kw))
    port = free_port()
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "unused.db"), "--port", str(port), *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    asgi = captured.pop("app")
    with _Thread(uvicorn.Config(asgi, **captured)):
        yield f"http://127.0.0.1:{port}"


def _statuses(responses: list[Any]) -> list[int]:
    return [r.status_code for r in responses]


# --------------------------------------------------------------------------- item 2: the limit


def test_lockout_is_a_clear_429_with_retry_after_and_an_admin_can_lift_it(make_app: Any) -> None:
    app = make_app(login_max_failures=3)
    lab = add_user(app, "lab", "labeller")
    add_user(app, "admin", "admin")
    c = _client(app, "10.0.0.1")
    assert _statuses([_login(c, "lab", "wrong password") for _ in range(3)]) == [401] * 3
    locked = _login(c, "lab")
    assert locked.status_code == 429
    wait = int(locked.headers["retry-after"])
    assert 0 < wait <= 900 and f"{wait} s" in locked.json()["detail"]
    admin = Browser(app, "admin")
    listed = admin.get("/api/admin/lockouts").json()
    assert any(x["username"] == "lab" and x["ip"] == "10.0.0.1" for x in listed), listed
    r = admin.post(f"/api/admin/users/{lab}/unlock")
    assert r.status_code == 200 and r.json()["cleared"] == 3
    assert _login(c, "lab").status_code == 200
    assert admin.get("/api/admin/lockouts").json() == []


def test_the_limit_counts_per_account_across_addresses(make_app: Any) -> None:
    app = make_app(login_max_failures=3, login_account_max_failures=6)
    add_user(app, "lab", "labeller")
    got = [_login(_client(app, f"10.1.0.{i}"), "lab", "wrong password").status_code for i in range(9)]
    assert got == [401] * 6 + [429] * 3, got
    # ... so a fresh address does not get the right password checked either,
    assert _login(_client(app, "10.1.0.99"), "lab").status_code == 429
    # while other accounts are untouched.
    add_user(app, "lab2", "labeller")
    assert _login(_client(app, "10.1.0.99"), "lab2").status_code == 200


def test_the_limit_counts_per_address_across_accounts(make_app: Any) -> None:
    app = make_app(login_max_failures=3, login_ip_max_failures=5)
    add_user(app, "lab", "labeller")
    c = _client(app, "10.2.0.1")
    got = [_login(c, f"user{i}", "wrong password").status_code for i in range(7)]
    assert got == [401] * 5 + [429] * 2, got
    assert _login(c, "lab").status_code == 429  # this address is spraying: it is stopped
    assert _login(_client(app, "10.2.0.2"), "lab").status_code == 200  # another address is not


def test_usernames_are_counted_case_insensitively(make_app: Any) -> None:
    app = make_app(login_max_failures=3)
    add_user(app, "lab", "labeller")
    c = _client(app, "10.3.0.1")
    for name in ("lab", "LAB", "Lab"):
        assert _login(c, name, "wrong password").status_code == 401
    assert _login(c, "lAb").status_code == 429


def test_a_wrong_password_on_a_locked_account_is_not_checked(make_app: Any) -> None:
    app = make_app(login_max_failures=2)
    add_user(app, "lab", "labeller")
    counter = CountingPasswords(app.state.nines.passwords)
    app.state.nines.passwords = counter
    c = _client(app, "10.4.0.1")
    assert _statuses([_login(c, "lab", "wrong password") for _ in range(5)]) == [401, 401, 429, 429, 429]
    assert counter.checks == 2


# --------------------------------------------------------------------------- items 2 and 3: live server


def test_forwarded_for_is_ignored_by_nines_serve_by_default(
        make_app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = make_app(login_max_failures=5)
    add_user(app, "lab", "labeller")
    with served_by_cli(app, monkeypatch, tmp_path) as base, httpx.Client(base_url=base, timeout=30) as client:
        got = [_login(client, "lab", "wrong password", {"X-Forwarded-For": f"203.0.113.{i}"}).status_code
               for i in range(12)]
        assert got == [401] * 5 + [429] * 7, got
        # A locked account does not accept the right password from a "new" address either.
        r = _login(client, "lab", PASSWORD, {"X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_forwarded_allow_ips_trusts_the_named_proxy(
        make_app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = make_app(login_max_failures=3, login_account_max_failures=8)
    add_user(app, "lab", "labeller")
    add_user(app, "admin", "admin")
    with served_by_cli(app, monkeypatch, tmp_path, "--forwarded-allow-ips", "127.0.0.1") as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        # Behind the proxy, one client's lock-out does not lock out the others...
        one = {"X-Forwarded-For": "192.0.2.1"}
        assert [_login(client, "lab", "wrong password", one).status_code for _ in range(4)] == [401] * 3 + [429]
        assert _login(client, "lab", PASSWORD, {"X-Forwarded-For": "192.0.2.2"}).status_code == 200
        # ... and fresh addresses each time still hit the per-account limit (3 failures above + 5).
        got = [_login(client, "lab", "wrong password", {"X-Forwarded-For": f"192.0.2.{10 + i}"}).status_code
               for i in range(7)]
        assert got == [401] * 5 + [429] * 2, got
    with app.state.nines.db.read() as conn:
        ips = set(conn.execute(sa.select(t.login_failures.c.ip)).scalars())
    assert "192.0.2.1" in ips and "127.0.0.1" not in ips  # the proxy's header is the client address


def test_parallel_wrong_passwords_get_at_most_the_limit_of_checks(
        make_app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A slower hash widens the window between checking the limit and recording a failure.
    app = make_app(login_max_failures=5, kdf_time_cost=2, kdf_memory_kib=16384)
    add_user(app, "lab", "labeller")
    counter = CountingPasswords(app.state.nines.passwords)
    app.state.nines.passwords = counter
    with served_by_cli(app, monkeypatch, tmp_path) as base, httpx.Client(base_url=base, timeout=60) as client:
        csrf = client.get("/api/auth/csrf").json()["csrf_token"]
        cookies = dict(client.cookies)
        start = threading.Barrier(20)

        def attempt(_: int) -> int:
            with httpx.Client(base_url=base, timeout=60, cookies=cookies) as c:
                start.wait()
                return c.post("/api/auth/login", json={"username": "lab", "password": "wrong password"},
                              headers={"X-CSRF-Token": csrf}).status_code

        with ThreadPoolExecutor(20) as pool:
            got = sorted(pool.map(attempt, range(20)))
    assert counter.checks <= 5, f"{counter.checks} password checks for a limit of 5"
    assert got == [401] * 5 + [429] * 15, got


def test_serve_passes_public_url_and_proxy_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    import nines.app
    from nines.cli.main import cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(nines.app, "create_app", lambda settings: seen.setdefault("settings", settings))
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: seen.update(kw))
    args = ["serve", "--db", str(tmp_path / "x.db"), "--public-url", "https://nines.example.org/",
            "--forwarded-allow-ips", "10.0.0.5,10.0.0.6", "--cookie-secure"]
    assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 0
    assert seen["proxy_headers"] is True and seen["forwarded_allow_ips"] == "10.0.0.5,10.0.0.6"
    assert seen["settings"].public_url == "https://nines.example.org" and seen["settings"].cookie_secure
    seen.clear()
    assert CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "x.db")], catch_exceptions=False).exit_code == 0
    assert seen["proxy_headers"] is False
    bad = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "x.db"), "--public-url", "nines.example.org"])
    assert bad.exit_code != 0 and "http" in bad.output


# --------------------------------------------------------------------------- item 4: redirects


@pytest.mark.parametrize("target", [
    "/\\evil.example/phish", "/\t/evil.com", "//evil.com", "///evil.com", "/\\/evil.com", "https://evil.com",
    "http:/evil.com", "javascript:alert(1)", "\\\\evil.com", "/\n/evil.com", "/\r\n/evil.com", " //evil.com",
    "/\x00/evil.com", "/\x7f/evil.com", "evil.com", "", "/%0a/x\x0b", "/\u2028/evil.com",
])
def test_safe_next_refuses_anything_but_a_local_path(target: str) -> None:
    from nines.app.pages import safe_next

    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/label", "/admin/users?tab=1#x", "/label/%2F%2Fevil.com", "/a\u00e9"])
def test_safe_next_keeps_local_paths(target: str) -> None:
    from nines.app.pages import safe_next

    assert safe_next(target) == target


def test_login_page_renders_only_a_safe_next(app: Any) -> None:
    c = TestClient(app)
    page = c.get("/login", params={"next": "/\\evil.example/phish"})
    assert 'data-next="/"' in page.text
    assert 'data-next="/label"' in c.get("/login", params={"next": "/label"}).text


# --------------------------------------------------------------------------- item 6: tokens


def _token(browser: Browser, name: str = "script") -> tuple[int, str]:
    r = browser.post("/api/tokens", {"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), str(r.json()["token"])


def _bearer(app: Any, token: str) -> int:
    return int(TestClient(app).get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code)


def test_a_password_reset_revokes_the_users_api_tokens(app: Any, users: dict[str, int]) -> None:
    _, token = _token(Browser(app, "lab"))
    assert _bearer(app, token) == 200
    admin = Browser(app, "admin")
    assert admin.send("PATCH", f"/api/admin/users/{users['lab']}", {"password": "a new long password"}).status_code == 200
    assert _bearer(app, token) == 401


def test_deactivation_revokes_tokens_for_good(app: Any, users: dict[str, int]) -> None:
    _, token = _token(Browser(app, "lab"))
    admin = Browser(app, "admin")
    assert admin.send("PATCH", f"/api/admin/users/{users['lab']}", {"active": False}).status_code == 200
    assert admin.send("PATCH", f"/api/admin/users/{users['lab']}", {"active": True}).status_code == 200
    assert _bearer(app, token) == 401  # reactivating does not bring the old token back
    listed = admin.get(f"/api/admin/users/{users['lab']}/tokens").json()
    assert [x["revoked"] for x in listed] == [True]


def test_admins_list_and_revoke_other_users_tokens_and_see_last_use(app: Any, users: dict[str, int]) -> None:
    lab = Browser(app, "lab")
    tid, token = _token(lab)
    _token(lab, "unused")
    admin = Browser(app, "admin")
    before = admin.get(f"/api/admin/users/{users['lab']}/tokens").json()
    assert [x["last_used_at"] for x in before] == [None, None]
    assert _bearer(app, token) == 200
    after = {x["name"]: x for x in admin.get(f"/api/admin/users/{users['lab']}/tokens").json()}
    assert after["script"]["last_used_at"] is not None and after["unused"]["last_used_at"] is None
    assert "last_used_at" in lab.get("/api/tokens").json()[0]
    # The token id must belong to the user in the path.
    assert admin.send("DELETE", f"/api/admin/users/{users['lab2']}/tokens/{tid}").status_code == 404
    assert admin.send("DELETE", f"/api/admin/users/{users['lab']}/tokens/{tid}").status_code == 200
    assert _bearer(app, token) == 401
    assert lab.get(f"/api/admin/users/{users['lab']}/tokens").status_code == 403
    assert admin.get("/api/admin/users/99999/tokens").status_code == 404


# --------------------------------------------------------------------------- item 6: invites


def _invite(app: Any, **kw: Any) -> tuple[str, str]:
    admin = Browser(app, "admin")
    r = admin.post("/api/admin/invites", {"roles": ["labeller"], "hours": 1}, **kw)
    assert r.status_code == 201, r.text
    return str(r.json()["token"]), str(r.json()["url"])


def _accept(app: Any, token: str, username: str) -> Any:
    guest = TestClient(app, raise_server_exceptions=False)
    csrf = guest.get("/api/auth/csrf").json()["csrf_token"]
    return guest.post("/api/auth/invite", json={"token": token, "username": username, "password": PASSWORD},
                      headers={"X-CSRF-Token": csrf})


def test_an_invite_cannot_probe_usernames_without_limit(app: Any, users: dict[str, int]) -> None:
    token, _ = _invite(app)
    clashes = [_accept(app, token, name) for name in ("lab", "lab2", "rater")]
    assert _statuses(clashes) == [409, 409, 409]
    assert "2 tries left" in clashes[0].json()["detail"] and "used up" in clashes[2].json()["detail"]
    late = _accept(app, token, "a-free-name")
    assert late.status_code == 404
    with app.state.nines.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.users)
                            .where(t.users.c.username == "a-free-name")).scalar_one() == 0


def test_an_invite_survives_one_clash_and_then_works(app: Any, users: dict[str, int]) -> None:
    token, _ = _invite(app)
    assert _accept(app, token, "lab").status_code == 409
    assert _accept(app, token, "newbie").status_code == 201


def test_invite_urls_never_come_from_the_host_header(make_app: Any) -> None:
    app = make_app()
    add_user(app, "admin", "admin")
    token, url = _invite(app, headers={"Host": "evil.example"})
    assert "evil.example" not in url and url == f"/invite/{token}"
    public = make_app(public_url="https://nines.example.org/")  # the same store: the admin exists
    token, url = _invite(public, headers={"Host": "evil.example"})
    assert url == f"https://nines.example.org/invite/{token}"


# --------------------------------------------------------------------------- item 6: usernames


@pytest.mark.parametrize("clash", ["Admin", "ADMIN", "admin.", "ad-min", "ad_min", "a.d.m.i.n", "admin-"])
def test_look_alike_usernames_are_refused(app: Any, users: dict[str, int], clash: str) -> None:
    admin = Browser(app, "admin")
    r = admin.post("/api/admin/users", {"username": clash, "password": PASSWORD, "roles": ["rater"]})
    assert r.status_code == 409, (clash, r.text)
    assert "admin" in r.json()["detail"]


def test_new_usernames_are_stored_lower_case_and_log_in_any_case(app: Any, users: dict[str, int]) -> None:
    admin = Browser(app, "admin")
    r = admin.post("/api/admin/users", {"username": "Carol", "password": PASSWORD, "roles": ["rater"]})
    assert r.status_code == 201 and r.json()["username"] == "carol"
    assert Browser(app).login("CAROL").status_code == 200
    assert Browser(app).login("carol").status_code == 200
    assert admin.post("/api/admin/users", {"username": "b0b", "password": PASSWORD, "roles": ["rater"]}).status_code == 201
    r = admin.post("/api/admin/users", {"username": "bob", "password": PASSWORD, "roles": ["rater"]})
    assert r.status_code == 409 and "b0b" in r.json()["detail"]


def test_existing_mixed_case_users_still_log_in(app: Any) -> None:
    ctx = app.state.nines
    with ctx.db.write() as conn:  # a store made before names were normalised
        conn.execute(t.users.insert().values(username="OldTimer", password_hash=ctx.passwords.hash(PASSWORD),
                                             roles="labeller", active=True, created_at=sa.func.now()))
    assert Browser(app).login("OldTimer").status_code == 200
    assert Browser(app).login("oldtimer").status_code == 200
    add_user(app, "admin", "admin")
    r = Browser(app, "admin").post("/api/admin/users", {"username": "oldtimer", "password": PASSWORD,
                                                         "roles": ["rater"]})
    assert r.status_code == 409


# --------------------------------------------------------------------------- item 6: last admin, HSTS


def test_the_last_active_admin_cannot_deactivate_or_demote_itself(app: Any, users: dict[str, int]) -> None:
    admin = Browser(app, "admin")
    me = users["admin"]
    r = admin.send("PATCH", f"/api/admin/users/{me}", {"active": False})
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    assert admin.send("PATCH", f"/api/admin/users/{me}", {"roles": ["labeller"]}).status_code == 409
    assert admin.get("/api/me").status_code == 200
    second = admin.post("/api/admin/users", {"username": "boss2", "password": PASSWORD, "roles": ["admin"]})
    assert second.status_code == 201
    assert admin.send("PATCH", f"/api/admin/users/{me}", {"active": False}).status_code == 200


@pytest.mark.parametrize("secure", [True, False])
def test_hsts_exactly_when_cookies_are_secure(make_app: Any, secure: bool) -> None:
    app = make_app(cookie_secure=secure)
    r = TestClient(app).get("/login")
    hsts = r.headers.get("strict-transport-security")
    if secure:
        assert hsts is not None and "max-age=31536000" in hsts
    else:
        assert hsts is None


def test_public_url_must_be_an_http_url(make_app: Any) -> None:
    with pytest.raises(ValueError, match="public_url"):
        make_app(public_url="nines.example.org")



def test_the_new_admin_endpoints_admit_only_admins(app: Any, users: dict[str, int]) -> None:
    calls = [("GET", "/api/admin/lockouts", None), ("POST", f"/api/admin/users/{users['lab']}/unlock", None),
             ("POST", "/api/admin/lockouts/clear", {"ip": "10.0.0.1"}),
             ("GET", f"/api/admin/users/{users['lab']}/tokens", None),
             ("DELETE", f"/api/admin/users/{users['lab']}/tokens/1", None)]
    for name in ("lab", "rater", "red"):
        b = Browser(app, name)
        assert [b.send(m, p, body).status_code for m, p, body in calls] == [403] * 5, name
    anon = Browser(app)
    assert [anon.send(m, p, body, csrf=False).status_code for m, p, body in calls] == [401] * 5
    admin = Browser(app, "admin")
    assert admin.post("/api/admin/lockouts/clear", {}).status_code == 422
    assert admin.post("/api/admin/lockouts/clear", {"ip": "10.0.0.1"}).json() == {"cleared": 0}
