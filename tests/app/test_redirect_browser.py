"""Issue 15, item 4: after logging in, a real (headless Debian) Chromium never leaves the app's origin.

Every request the page makes to another host is intercepted and answered locally (nothing can
leave the machine anyway), so the test sees exactly where the browser tried to go.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from nines.app.app import create_app

from .helpers import PASSWORD, Browser, add_user, fast_settings
from .test_browser import ARGS, CHROMIUM, _browser_or_skip

# The two payloads from the issue (as raw ``next`` values; the second arrives as a tab), and relatives.
HOSTILE = ["/\\evil.example/phish", "/\t/evil.com", "//evil.com", "/\\/evil.com", "https://evil.com/x",
           "/\n/evil.com", "\\\\evil.com", " //evil.com", "javascript:alert(1)"]
RAW_QUERIES = ["%2F%5Cevil.example%2Fphish", "/%09/evil.com", "%2F%09%2Fevil.com", "/%5C/evil.com"]


@pytest.fixture
def served(tmp_path: Path, live_server: Any) -> Iterator[tuple[str, Any]]:
    app = create_app(fast_settings(str(tmp_path / "redirect.db")))
    add_user(app, "lab", "labeller")
    add_user(app, "admin", "admin")
    with live_server(app) as srv:
        yield f"http://127.0.0.1:{srv.port}", app
    app.state.nines.db.close()


@pytest.fixture
def server(served: tuple[str, Any]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the module (each test gets a fresh context: no shared cookies)."""
    pw = _browser_or_skip()
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(server: str, chromium: Any) -> Iterator[tuple[Any, list[str]]]:
    """A tab, and the list of every URL it requested outside the app (answered with a stand-in page)."""
    context = chromium.new_context()
    foreign: list[str] = []

    def elsewhere(route: Any) -> None:
        foreign.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p id='phished'>phished</p>")

    context.route(lambda url: not url.startswith(server), elsewhere)
    yield context.new_page(), foreign
    context.close()


def _login_with(page: Any, base: str, query: str, user: str = "lab") -> str:
    """Open ``/login?next=<query>`` (already URL-encoded), log in, and return where the browser ends up."""
    page.goto(f"{base}/login?next={query}")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/login" not in url, timeout=15_000)
    page.wait_for_load_state("load")
    return str(page.url)


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_redirects_off_site(server: str, page: tuple[Any, list[str]], target: str) -> None:
    tab, foreign = page
    final = _login_with(tab, server, quote(target, safe=""))
    assert final.startswith(server + "/"), final
    assert foreign == [], foreign


@pytest.mark.parametrize("query", RAW_QUERIES)
def test_login_never_redirects_off_site_raw_query(server: str, page: tuple[Any, list[str]], query: str) -> None:
    tab, foreign = page
    final = _login_with(tab, server, query)
    assert final.startswith(server + "/"), final
    assert foreign == [], foreign


def test_login_follows_a_local_next(server: str, page: tuple[Any, list[str]]) -> None:
    tab, foreign = page
    final = _login_with(tab, server, quote("/instructions?x=1", safe=""))
    assert final == f"{server}/instructions?x=1" and foreign == []


def test_admin_users_page_invite_link_unlock_and_tokens(served: tuple[str, Any], page: tuple[Any, list[str]]) -> None:
    base, app = served
    tab, foreign = page
    lab = Browser(app, "lab")
    assert lab.post("/api/tokens", {"name": "lab-script"}).status_code == 201
    assert Browser(app).login("lab", "wrong password").status_code == 401
    assert _login_with(tab, base, quote("/admin/users", safe=""), user="admin") == f"{base}/admin/users"
    tab.check('#invite-form input[value="labeller"]')
    tab.click("#invite-form button[type=submit]")
    tab.wait_for_selector("#invite-url:not([hidden])")
    assert (tab.text_content("#invite-url") or "").startswith(f"{base}/invite/")  # the admin's own origin
    row = tab.locator("#users tr", has_text="lab")
    row.locator("button", has_text="unlock").click()
    tab.wait_for_selector("#toast", state="visible")
    tab.wait_for_function("() => document.querySelector('#toast').textContent.includes('forgotten')")
    row.locator("button", has_text="tokens").click()
    row.locator("li", has_text="lab-script").wait_for()
    row.locator("li", has_text="lab-script").locator("button", has_text="revoke").click()
    row.locator("li", has_text="revoked").wait_for()
    assert lab.get("/api/tokens").json()[0]["revoked"] is True and foreign == []
