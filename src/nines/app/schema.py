"""SQLAlchemy table objects for the app's tables.

They mirror migration ``0003_app``; the migration owns the schema, these only let queries be
written in SQLAlchemy Core. The store's own tables (snippets, labels, datasets) are imported
from :mod:`nines.data.store` so there is one definition of each.
"""

from __future__ import annotations

import sqlalchemy as sa

from nines.data.store import dataset_snippets_table, datasets_table, labels_table, snippets_table

__all__ = [
    "adjudications", "api_tokens", "assignments", "comparisons", "dataset_snippets_table", "datasets_table", "finds",
    "instructions", "invites", "labels_table", "login_failures", "pair_assignments", "pair_tasks",
    "queue_items", "queues", "sessions", "snippets_table", "submissions", "users",
]

meta = sa.MetaData()
_TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


users = sa.Table(
    "users", meta, _id(),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("roles", sa.String(128), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)
sessions = sa.Table(
    "sessions", meta, _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
)
api_tokens = sa.Table(
    "api_tokens", meta, _id(),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("last_used_at", _TS),
    sa.Column("revoked_at", _TS),
)
invites = sa.Table(
    "invites", meta, _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("roles", sa.String(128), nullable=False),
    sa.Column("created_by", sa.Integer),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Column("used_at", _TS),
    sa.Column("used_by", sa.Integer),
    sa.Column("clashes", sa.Integer, nullable=False, server_default="0"),  # migration 0005
)
login_failures = sa.Table(
    "login_failures", meta, _id(),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", _TS, nullable=False),
)
instructions = sa.Table(
    "instructions", meta, _id(),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author_id", sa.Integer),
    sa.Column("created_at", _TS, nullable=False),
)
queues = sa.Table(
    "queues", meta, _id(),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("dataset", sa.String(128), nullable=False),
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("labels_per_item", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)
queue_items = sa.Table(
    "queue_items", meta,
    sa.Column("queue_id", sa.Integer, primary_key=True),
    sa.Column("snippet_id", sa.Integer, primary_key=True),
    sa.Column("priority", sa.Float, nullable=False),
)
assignments = sa.Table(
    "assignments", meta, _id(),
    sa.Column("queue_id", sa.Integer, nullable=False),
    sa.Column("snippet_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("assigned_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
)
submissions = sa.Table(
    "submissions", meta, _id(),
    sa.Column("queue_id", sa.Integer, nullable=False),
    sa.Column("snippet_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("label_id", sa.Integer),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("idem_key", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("undone_at", _TS),
)
# Migration 0004: an admin's decision on a snippet whose labels tie (one per snippet).
adjudications = sa.Table(
    "adjudications", meta, _id(),
    sa.Column("snippet_id", sa.Integer, nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("admin_id", sa.Integer),
    sa.Column("admin", sa.String(64), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("created_at", _TS, nullable=False),
)
pair_tasks = sa.Table(
    "pair_tasks", meta, _id(),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("first", sa.Text, nullable=False),
    sa.Column("second", sa.Text, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("wanted", sa.Integer, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)
pair_assignments = sa.Table(
    "pair_assignments", meta, _id(),
    sa.Column("task_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("left_is_first", sa.Boolean, nullable=False),
    sa.Column("assigned_at", _TS, nullable=False),
)
comparisons = sa.Table(
    "comparisons", meta, _id(),
    sa.Column("task_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("choice", sa.String(8), nullable=False),
    sa.Column("outcome", sa.Float, nullable=False),
    sa.Column("idem_key", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)
finds = sa.Table(
    "redteam_finds", meta, _id(),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("completion", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("idem_key", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reviewer_id", sa.Integer),
    sa.Column("reviewed_at", _TS),
    sa.Column("review_note", sa.Text),
    sa.Column("snippet_id", sa.Integer),
)
