"""SQLAlchemy table objects for the app's tables, on the store's one :data:`~nines.data.schema.metadata`.

This is the only definition of the app's tables; migrations ``0003`` to ``0005`` create them and
``tests/data/test_store_schema.py`` checks the two agree. The store's own tables (snippets,
labels, datasets) are re-exported from :mod:`nines.data.schema`; the app reads them here but
writes them only through :class:`nines.data.store.Store`.
"""

from __future__ import annotations

import sqlalchemy as sa

from nines.data.schema import TIMESTAMP as _TS
from nines.data.schema import dataset_snippets_table, datasets_table, labels_table, metadata, snippets_table

__all__ = [
    "adjudications", "api_tokens", "assignments", "comparisons", "dataset_snippets_table", "datasets_table", "finds",
    "instructions", "invites", "labels_table", "login_failures", "meta", "pair_assignments", "pair_tasks",
    "queue_items", "queues", "sessions", "snippets_table", "submissions", "users",
]

#: The same MetaData as the store's tables (kept under its old name for callers).
meta = metadata
_LABEL_IN = "label IN ('injurious', 'safe', 'unsure')"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, ondelete: str = "CASCADE", nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def _user_fk() -> sa.Column[int]:
    return _fk("user_id", "users.id")


def _set_null(name: str, target: str = "users.id") -> sa.Column[int]:
    return _fk(name, target, ondelete="SET NULL", nullable=True)


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
    _user_fk(),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Index("ix_sessions_user_id", "user_id"),
)
api_tokens = sa.Table(
    "api_tokens", meta, _id(),
    _user_fk(),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("last_used_at", _TS),
    sa.Column("revoked_at", _TS),
    sa.Index("ix_api_tokens_user_id", "user_id"),
)
invites = sa.Table(
    "invites", meta, _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("roles", sa.String(128), nullable=False),
    _set_null("created_by"),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Column("used_at", _TS),
    _set_null("used_by"),
    sa.Column("clashes", sa.Integer, nullable=False, server_default="0"),  # migration 0005
)
login_failures = sa.Table(
    "login_failures", meta, _id(),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", _TS, nullable=False),
    sa.Index("ix_login_failures_key", "username", "ip", "at"),
    sa.Index("ix_login_failures_ip", "ip", "at"),  # migration 0005
)
instructions = sa.Table(
    "instructions", meta, _id(),
    sa.Column("body", sa.Text, nullable=False),
    _set_null("author_id"),
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
    sa.CheckConstraint("labels_per_item >= 1", name="ck_queues_labels_per_item"),
)
queue_items = sa.Table(
    "queue_items", meta,
    sa.Column("queue_id", sa.Integer, sa.ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("priority", sa.Float, nullable=False),
    sa.Index("ix_queue_items_priority", "queue_id", "priority"),
)
assignments = sa.Table(
    "assignments", meta, _id(),
    _fk("queue_id", "queues.id"),
    _fk("snippet_id", "snippets.id"),
    _user_fk(),
    sa.Column("assigned_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.UniqueConstraint("queue_id", "snippet_id", "user_id", name="uq_assignments_item_user"),
    sa.Index("ix_assignments_user", "user_id", "queue_id"),
)
submissions = sa.Table(
    "submissions", meta, _id(),
    _fk("queue_id", "queues.id"),
    _fk("snippet_id", "snippets.id"),
    _user_fk(),
    _set_null("label_id", "labels.id"),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("idem_key", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("undone_at", _TS),
    sa.UniqueConstraint("user_id", "idem_key", name="uq_submissions_idem_key"),
    sa.CheckConstraint(_LABEL_IN, name="ck_submissions_label"),
    # One live label per labeller per item per queue; an undone one no longer counts.
    sa.Index("uq_submissions_live", "queue_id", "snippet_id", "user_id", unique=True,
             sqlite_where=sa.text("undone_at IS NULL"), postgresql_where=sa.text("undone_at IS NULL")),
    sa.Index("ix_submissions_queue_snippet", "queue_id", "snippet_id"),
)
# Migration 0004: an admin's decision on a snippet whose labels tie (one per snippet).
adjudications = sa.Table(
    "adjudications", meta, _id(),
    _fk("snippet_id", "snippets.id"),
    sa.Column("label", sa.String(16), nullable=False),
    _set_null("admin_id"),
    sa.Column("admin", sa.String(64), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("snippet_id", name="uq_adjudications_snippet"),
    sa.CheckConstraint(_LABEL_IN, name="ck_adjudications_label"),
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
    _fk("task_id", "pair_tasks.id"),
    _user_fk(),
    sa.Column("left_is_first", sa.Boolean, nullable=False),
    sa.Column("assigned_at", _TS, nullable=False),
    sa.UniqueConstraint("task_id", "user_id", name="uq_pair_assignments_task_user"),
)
comparisons = sa.Table(
    "comparisons", meta, _id(),
    _fk("task_id", "pair_tasks.id"),
    _user_fk(),
    sa.Column("choice", sa.String(8), nullable=False),
    sa.Column("outcome", sa.Float, nullable=False),
    sa.Column("idem_key", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("user_id", "idem_key", name="uq_comparisons_idem_key"),
    sa.UniqueConstraint("task_id", "user_id", name="uq_comparisons_task_user"),
    sa.CheckConstraint("outcome IN (0.0, 0.5, 1.0)", name="ck_comparisons_outcome"),
)
finds = sa.Table(
    "redteam_finds", meta, _id(),
    _user_fk(),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("completion", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("idem_key", sa.String(64), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _set_null("reviewer_id"),
    sa.Column("reviewed_at", _TS),
    sa.Column("review_note", sa.Text),
    _set_null("snippet_id", "snippets.id"),
    sa.UniqueConstraint("user_id", "idem_key", name="uq_redteam_finds_idem_key"),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'rejected')", name="ck_redteam_finds_status"),
    sa.Index("ix_redteam_finds_status", "status"),
)
