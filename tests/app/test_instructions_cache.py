"""The instructions' Markdown is rendered once per version, not on every view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nines.app import instructions

from .helpers import Browser

# About 200,000 characters of Markdown, the most an admin may save.
LONG = "".join(f"## Rule {i}\n\nA *cut* or a **bruise** counts as an injury; see [the guide](#r{i}).\n\n"
               for i in range(2600))[:199_000]


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every text the Markdown renderer is asked to render."""
    seen: list[int] = []
    real = instructions._md.render

    def counting(text: str, *args: Any, **kwargs: Any) -> str:
        seen.append(len(text))
        return real(text, *args, **kwargs)

    monkeypatch.setattr(instructions._md, "render", counting)
    instructions.clear_cache()
    return seen


def test_views_of_one_version_render_once(app: Any, as_user: Callable[[str], Browser], renders: list[int]) -> None:
    admin, lab = as_user("admin"), as_user("lab")
    assert admin.send("PUT", "/api/admin/instructions", {"body": LONG}).json()["version"] == 1
    for _ in range(3):
        assert "<h2>Rule 7</h2>" in lab.get("/instructions").text
        assert "<h2>Rule 7</h2>" in lab.get("/api/instructions").json()["html"]
    assert renders == [len(LONG)]
    assert admin.send("PUT", "/api/admin/instructions", {"body": "# New rules\n\nOnly *these*."}).json()["version"] == 2
    page = lab.get("/instructions").text
    assert "<h1>New rules</h1>" in page and "Rule 7" not in page
    lab.get("/instructions")
    assert renders == [len(LONG), len("# New rules\n\nOnly *these*.")]


def test_the_default_text_is_rendered_once(app: Any, as_user: Callable[[str], Browser], renders: list[int]) -> None:
    lab = as_user("lab")
    for _ in range(3):
        assert lab.get("/instructions").status_code == 200
    assert len(renders) == 1


def test_same_version_number_in_another_database_is_not_confused(
        tmp_path: Path, renders: list[int]) -> None:
    # Version 1 of one store is not version 1 of another: the cache must not hand one's HTML to the other.
    from nines.app.app import create_app

    from .helpers import add_user, fast_settings

    shown = []
    for i, body in enumerate(("# First store", "# Second store")):
        app = create_app(fast_settings(str(tmp_path / f"s{i}.db")), classifier=None)
        try:
            add_user(app, "admin", "admin")
            admin = Browser(app, "admin")
            assert admin.send("PUT", "/api/admin/instructions", {"body": body}).json()["version"] == 1
            shown.append(admin.get("/api/instructions").json()["html"])
        finally:
            app.state.nines.db.close()
    assert shown == ["<h1>First store</h1>\n", "<h1>Second store</h1>\n"]


def test_rendering_is_still_safe(app: Any, as_user: Callable[[str], Browser], renders: list[int]) -> None:
    admin = as_user("admin")
    admin.send("PUT", "/api/admin/instructions", {"body": "<script>alert(1)</script> [x](javascript:alert(1))"})
    for _ in range(2):
        html = admin.get("/api/instructions").json()["html"]
        assert "<script>" not in html and "&lt;script&gt;" in html and 'href="javascript' not in html
