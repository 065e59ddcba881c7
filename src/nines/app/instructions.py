"""The labelling instructions: Markdown, versioned in the database, rendered with raw HTML off."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
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


# Rendered HTML by (version, digest of the text). Rendering 200,000 characters takes seconds and
# a version never changes once saved, so each is rendered once per process. The digest is in
# the key because version numbers are only unique within one database (tests, or two stores
# served by one process), and the default text (version 0) can change with the file.
_CACHE_SIZE = 16
_cache: OrderedDict[tuple[int, str], str] = OrderedDict()
_cache_lock = threading.Lock()


def cached_render(version: int, markdown: str) -> str:
    """:func:`render`, remembered per version and text (the least recently used of 16 is dropped)."""
    key = (version, hashlib.sha256(markdown.encode("utf-8")).hexdigest())
    with _cache_lock:
        html = _cache.get(key)
        if html is not None:
            _cache.move_to_end(key)
            return html
    html = render(markdown)  # outside the lock: a slow render must not hold up other versions' views
    with _cache_lock:
        _cache[key] = html
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return html


def clear_cache() -> None:
    """Forget every rendered version."""
    with _cache_lock:
        _cache.clear()


def current(conn: Connection, default: str) -> dict[str, Any]:
    """The newest saved version, or ``default`` when none was saved yet."""
    i, u = t.instructions, t.users
    row = conn.execute(sa.select(i.c.id, i.c.body, i.c.created_at, u.c.username)
                       .join(u, u.c.id == i.c.author_id, isouter=True).order_by(i.c.id.desc()).limit(1)).first()
    if row is None:
        return {"version": 0, "body": default, "author": None, "updated_at": None, "html": cached_render(0, default)}
    return {"version": row.id, "body": row.body, "author": row.username,
            "updated_at": utc(row.created_at).isoformat(), "html": cached_render(row.id, row.body)}


def save(conn: Connection, body: str, author_id: int) -> int:
    """Store a new version (old versions are kept); returns its number."""
    stmt = t.instructions.insert().values(body=body, author_id=author_id, created_at=now())
    return int(conn.execute(stmt.returning(t.instructions.c.id)).scalar_one())
