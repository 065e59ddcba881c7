"""The labelling instructions: Markdown, versioned in the database, rendered with raw HTML off."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from markdown_it import MarkdownIt
from sqlalchemy.engine import Connection

from nines.app import schema as t
from nines.app.db import now, utc

# "commonmark" with html=False: any HTML in the Markdown is shown as text, never interpreted,
# so an admin's instructions cannot smuggle a script into labellers' pages. Tables are enabled
# because the guide's label table is one.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render(markdown: str) -> str:
    """Safe HTML for a Markdown text (raw HTML escaped, ``javascript:`` links refused)."""
    return _md.render(markdown)


def current(conn: Connection, default: str) -> dict[str, Any]:
    """The newest saved version, or ``default`` when none was saved yet."""
    i, u = t.instructions, t.users
    row = conn.execute(sa.select(i.c.id, i.c.body, i.c.created_at, u.c.username)
                       .join(u, u.c.id == i.c.author_id, isouter=True).order_by(i.c.id.desc()).limit(1)).first()
    if row is None:
        return {"version": 0, "body": default, "author": None, "updated_at": None, "html": render(default)}
    return {"version": row.id, "body": row.body, "author": row.username,
            "updated_at": utc(row.created_at).isoformat(), "html": render(row.body)}


def save(conn: Connection, body: str, author_id: int) -> int:
    """Store a new version (old versions are kept); returns its number."""
    stmt = t.instructions.insert().values(body=body, author_id=author_id, created_at=now())
    return int(conn.execute(stmt.returning(t.instructions.c.id)).scalar_one())
