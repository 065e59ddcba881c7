"""Fixtures for the web-app tests: a fresh store (SQLite, and PostgreSQL when configured), the app, users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")

from nines.app.app import create_app  # noqa: E402
from pg import fresh_database  # noqa: E402

from .helpers import Browser, KeywordClassifier, add_user, fast_settings  # noqa: E402


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, and PostgreSQL when $NINES_TEST_POSTGRES_URL is set."""
    yield from fresh_database(request.param, str(tmp_path / "app.db"))


@pytest.fixture
def make_app(db_url: str) -> Iterator[Callable[..., Any]]:
    """Build apps on the test database (keyword classifier unless told otherwise); closed afterwards."""
    made: list[Any] = []

    def build(classifier: Any = "keyword", **kwargs: Any) -> Any:
        clf = KeywordClassifier() if classifier == "keyword" else classifier
        app = create_app(fast_settings(db_url, **kwargs), classifier=clf)
        made.append(app)
        return app

    yield build
    for app in made:
        app.state.nines.db.close()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """The app with the keyword classifier and the StoryWorld generator."""
    return make_app()


@pytest.fixture
def users(app: Any) -> dict[str, int]:
    """One account per role plus a second labeller and a second red-teamer."""
    return {name: add_user(app, name, role) for name, role in (
        ("admin", "admin"), ("lab", "labeller"), ("lab2", "labeller"), ("rater", "rater"), ("red", "redteamer"),
        ("red2", "redteamer"))}


@pytest.fixture
def as_user(app: Any, users: dict[str, int]) -> Callable[[str], Browser]:
    """``as_user("lab")``: a logged-in browser for that account."""
    return lambda name: Browser(app, name)
