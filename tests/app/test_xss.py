"""Story text is shown as text: HTML or a <script> in a prompt is escaped everywhere and runs nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nines.app.instructions import render

from .helpers import XSS, Browser

STATIC = Path(__file__).resolve().parents[2] / "src" / "nines" / "app" / "static"
TEMPLATES = STATIC.parent / "templates"


def _no_live_markup(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    # Every script tag on the page is one of ours, loaded from /static with no inline code.
    for tag in re.findall(r"<script[^>]*>.*?</script>", html, flags=re.S):
        assert re.fullmatch(r'<script src="/static/[a-z]+\.js" defer></script>', tag), tag


def test_story_text_is_escaped_on_every_page_that_shows_it(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin, red = as_user("admin"), as_user("red")
    admin.post("/api/admin/snippets", {"dataset": XSS[:60], "items": [{"prompt": XSS, "completion": "safe"}]})
    f = red.post("/api/redteam/finds", {"prompt": XSS, "completion": "He smiled. " + XSS, "note": XSS,
                                        "seconds": 1, "key": "xss-find-01"})
    assert f.status_code == 201, f.text
    admin.post(f"/api/admin/finds/{f.json()['id']}/review", {"decision": "reject", "note": XSS})
    admin.send("PUT", "/api/admin/instructions", {"body": "# Rules\n\n" + XSS + "\n\n[click](javascript:alert(1))"})
    pages = {"/admin": admin, "/finds": red, "/instructions": admin, "/admin/instructions": admin}
    for path, who in pages.items():
        html = who.get(path).text
        _no_live_markup(html)
        assert "&lt;script&gt;" in html or "&amp;lt;script" in html, path
    assert 'href="javascript:' not in admin.get("/instructions").text


def test_json_api_returns_text_verbatim_as_json(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    admin.post("/api/admin/snippets", {"dataset": "x", "items": [{"prompt": XSS, "completion": XSS}]})
    admin.post("/api/admin/queues", {"name": "x", "dataset": "x"})
    r = as_user("lab").get("/api/queues/1/next")
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["item"]["prompt"] == XSS  # stored and returned exactly; the page sets it as textContent


def test_pages_send_a_strict_content_security_policy(app: Any, as_user: Callable[[str], Browser]) -> None:
    r = as_user("lab").get("/label")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def test_client_code_never_writes_html_from_data() -> None:
    for js in STATIC.glob("*.js"):
        code = "\n".join(line for line in js.read_text().splitlines() if not line.strip().startswith("//"))
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in code, f"{js.name} uses {sink}"
    for tpl in TEMPLATES.glob("*.html"):
        text = tpl.read_text()
        assert "<script>" not in text and " on" + "click=" not in text, tpl.name
        # The one |safe is the instructions' HTML, which markdown-it made with raw HTML turned off.
        for m in re.finditer(r"\{\{([^}]*)\|\s*safe", text):
            assert m.group(1).strip() == "doc.html", tpl.name


def test_markdown_instructions_escape_raw_html() -> None:
    html = render("Hello <script>alert(1)</script> **bold** [x](javascript:alert(1))")
    assert "<script>" not in html and "&lt;script&gt;" in html and "<strong>bold</strong>" in html
    assert 'href="javascript' not in html
