"""The human loop: a web app for labelling, pairwise comparison and red-teaming (``nines serve``).

Modules:
    app: ``create_app`` wires everything together.
    settings: ``AppSettings``.
    db, schema: the store's database and the app's tables (migration ``0003_app``).
    security, accounts, auth: password hashing, sessions, API tokens, invites, CSRF, roles.
    labelling, agreement: queues, idempotent labels, undo, inter-labeller agreement.
    pairwise: blind comparisons, exported for ``RecordedJudge``.
    playground, redteam: the red-team playground's models and the find review.
    dashboard, exports, instructions: the admin's views and downloads.
    api_*, pages: the JSON API and the HTML pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nines.app.settings import AppSettings

__all__ = ["AppSettings", "create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`nines.app.app.create_app` (imported lazily: FastAPI is an optional dependency)."""
    from nines.app.app import create_app as _create

    return _create(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "AppSettings":
        from nines.app.settings import AppSettings

        return AppSettings
    raise AttributeError(name)
