"""Real-browser tests: headless Chromium (Debian's) driven by Playwright against uvicorn on loopback.

Skipped with a message when Chromium or Playwright is missing (``apt-get install chromium``,
``pip install playwright``; never ``playwright install``, which downloads browsers).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nines.app import schema as t
from nines.app.app import create_app

from .helpers import PASSWORD, XSS, Browser, add_user, fast_settings

CHROMIUM = os.environ.get("NINES_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
STORIES = [
    ("Mara climbed the old apple tree to fetch her kite. The branch under her foot began to creak.",
     "It snapped, and she landed hard on her wrist, which swelled up at once."),
    ("The knight raised his sword as the dragon swooped low over the castle wall.",
     "The dragon veered away at the last moment and the blade cut only air."),
    ("Ben was chopping carrots for the soup while his sister told a joke.",
     "He laughed so hard that the knife slipped and nicked his thumb."),
    ("Grandpa showed the children the long scar on his arm.", "He said he got it fighting a bear, but nobody believed him."),
    ("The robot guard stepped in front of the door.", "Lily kicked it so hard its head flew off and rolled away."),
]


def _browser_or_skip() -> Any:
    pw = pytest.importorskip("playwright.sync_api", reason="pip install playwright (its bundled driver only)")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium")
    return pw


@pytest.fixture(scope="module")
def tiny_classifier(tiny_encoder_dir: Path) -> Any:
    from nines.classify.encoder import EncoderClassifier

    return EncoderClassifier.from_backbone(str(tiny_encoder_dir), device="cpu")


@pytest.fixture
def server(tmp_path: Path, live_server: Any, tiny_classifier: Any) -> Iterator[tuple[str, Any]]:
    """A live app with users, a labelling queue (last item hostile HTML) and a pair to compare."""
    app = create_app(fast_settings(str(tmp_path / "browser.db")), classifier=tiny_classifier)
    for name, role in (("admin", "admin"), ("lab", "labeller"), ("rater", "rater"), ("red", "redteamer")):
        add_user(app, name, role)
    admin = Browser(app, "admin")
    items = [{"prompt": p, "completion": c} for p, c in STORIES] + [{"prompt": XSS, "completion": XSS}]
    assert admin.post("/api/admin/snippets", {"dataset": "stories", "items": items}).status_code == 201
    assert admin.post("/api/admin/queues", {"name": "Stories, round 1", "dataset": "stories",
                                            "strategy": "sequential"}).status_code == 201
    pair = {"prompt": STORIES[0][0], "first": STORIES[0][1], "second": "She climbed down and flew the kite."}
    assert admin.post("/api/admin/pairs", {"items": [pair]}).status_code == 201
    with live_server(app) as srv:
        yield f"http://127.0.0.1:{srv.port}", app
    app.state.nines.db.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    pw = _browser_or_skip()
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def _login(browser: Any, base: str, user: str) -> Any:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("dialog", lambda d: pytest.fail(f"a dialog opened: {d.message!r} (script ran)"))
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def _count(app: Any, table: sa.Table) -> int:
    with app.state.nines.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_label_five_items_by_keyboard_and_hostile_text_stays_text(chromium: Any, server: tuple[str, Any]) -> None:
    base, app = server
    page = _login(chromium, base, "lab")
    assert page.url.endswith("/label")
    page.wait_for_function("() => document.querySelector('#prompt').textContent.length > 0")
    if os.environ.get("NINES_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.keyboard.press("1")
        page.screenshot(path=str(DOCS_IMG / "labelling.png"), full_page=True)
    seen = []
    for i in range(5):
        text = page.text_content("#prompt")
        seen.append(text)
        page.keyboard.press("2" if i % 2 else "1")
        page.keyboard.press("Enter")
        page.wait_for_function("t => document.querySelector('#prompt').textContent !== t", arg=text)
    assert seen == [p for p, _ in STORIES]
    assert _count(app, t.submissions) == 5 and _count(app, t.labels_table) == 5
    # The sixth item is hostile HTML: it must appear verbatim as text, with no element made from it.
    assert page.text_content("#prompt") == XSS and page.text_content("#completion") == XSS
    assert page.eval_on_selector("#prompt", "e => e.children.length") == 0
    assert page.evaluate("document.querySelectorAll('main img').length") == 0
    page.keyboard.press("u")  # undo the fifth label: its item comes back
    page.wait_for_function("t => document.querySelector('#prompt').textContent === t", arg=STORIES[4][0])
    assert _count(app, t.labels_table) == 4


def test_compare_a_pair(chromium: Any, server: tuple[str, Any]) -> None:
    base, app = server
    page = _login(chromium, base, "rater")
    assert page.url.endswith("/compare")
    page.wait_for_function("() => document.querySelector('#left').textContent.length > 0")
    assert {page.text_content("#left"), page.text_content("#right")} == {
        STORIES[0][1], "She climbed down and flew the kite."}
    page.keyboard.press("2")
    page.wait_for_selector("#empty:not([hidden])")
    with app.state.nines.db.read() as conn:
        assert conn.execute(sa.select(t.comparisons.c.outcome)).scalars().all() == [0.5]


def test_playground_live_score_and_token_substitutions(chromium: Any, server: tuple[str, Any]) -> None:
    base, _app = server
    page = _login(chromium, base, "red")
    assert page.url.endswith("/playground")
    page.fill("#prompt", "Tom picked up the knife.")
    page.fill("#completion", "He cut his hand.")
    page.wait_for_function("() => document.querySelector('#verdict').dataset.score !== undefined")
    first = page.get_attribute("#verdict", "data-score")
    assert "score" in (page.text_content("#verdict") or "")
    page.type("#completion", " It bled a lot and he cried out in pain.")
    page.wait_for_function("s => document.querySelector('#verdict').dataset.score !== s", arg=first)
    assert page.get_attribute("#verdict", "data-score") != first
    page.wait_for_selector('#saliency button.word[data-segment="completion"]')
    page.click('#saliency button.word[data-segment="completion"][data-index="1"]')
    page.wait_for_selector("#suggestions li")
    items = page.locator("#suggestions li").all_text_contents()
    assert any("→" in x for x in items) and all("score" in x for x in items)
    assert "cut" in (page.text_content("#suggestions-title") or "")
    # A random prompt is continued by its id (the page sends it back while the text is unedited).
    page.click("#random-prompt")
    page.wait_for_function("() => document.querySelector('#prompt').value !== 'Tom picked up the knife.'")
    page.click("#generate")
    page.wait_for_selector("#completions li")
    assert page.locator("#completions li").count() >= 1


def test_another_tasks_buttons_and_keys_label_in_the_browser(chromium: Any, tmp_path: Path, live_server: Any,
                                                              tiny_classifier: Any) -> None:
    """With ``task=safetext`` the page shows Unsafe/Safe, key 1 stores the positive class and key 2 the negative."""
    app = create_app(fast_settings(str(tmp_path / "task.db"), task="safetext"), classifier=tiny_classifier)
    for name, role in (("admin", "admin"), ("lab", "labeller")):
        add_user(app, name, role)
    admin = Browser(app, "admin")
    items = [{"prompt": "If you see a colourful mushroom on a hike,", "completion": "taste it."},
             {"prompt": "To remove redness from eyes,", "completion": "try using eye drops."}]
    assert admin.post("/api/admin/snippets", {"dataset": "advice", "items": items}).status_code == 201
    assert admin.post("/api/admin/queues", {"name": "advice", "dataset": "advice",
                                            "strategy": "sequential"}).status_code == 201
    with live_server(app) as srv:
        page = _login(chromium, f"http://127.0.0.1:{srv.port}", "lab")
        page.wait_for_function("() => document.querySelector('#prompt').textContent.length > 0")
        buttons = page.text_content("main")
        assert "Unsafe" in buttons and "Injurious" not in buttons and "injurious" not in buttons
        text = page.text_content("#prompt")
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_function("t => document.querySelector('#prompt').textContent !== t", arg=text)
        page.keyboard.press("2")
        page.keyboard.press("Enter")  # the last item: the queue is then done, so wait for the store instead
        for _ in range(100):
            if _count(app, t.labels_table) == 2:
                break
            page.wait_for_timeout(100)
    with app.state.nines.db.read() as conn:
        stored = conn.execute(sa.select(t.labels_table.c.label).order_by(t.labels_table.c.id)).scalars().all()
    app.state.nines.db.close()
    assert list(stored) == ["injurious", "safe"]  # stored as the positive / negative class
