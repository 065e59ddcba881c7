"""The web app's tables: accounts, sessions, labelling queues, pairwise comparisons, red-team finds.

Labels given in the app still go to ``labels`` (the history) and ``snippets.label``; a
``submissions`` row ties each one to who gave it, in which queue, under which idempotency key.
The unique constraints here are what make a double click or a refresh count once.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _user_fk(nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column[int]:
    return sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete=ondelete), nullable=nullable)


def _accounts() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("roles", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _user_fk(),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _user_fk(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("roles", sa.String(128), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
        sa.Column("used_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_login_failures_key", "login_failures", ["username", "ip", "at"])
    op.create_table(
        "instructions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )


def _labelling() -> None:
    op.create_table(
        "queues",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("labels_per_item", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint("labels_per_item >= 1", name="ck_queues_labels_per_item"),
    )
    op.create_table(
        "queue_items",
        sa.Column("queue_id", sa.Integer, sa.ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("priority", sa.Float, nullable=False),
    )
    op.create_index("ix_queue_items_priority", "queue_items", ["queue_id", "priority"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.Integer, sa.ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), nullable=False),
        _user_fk(),
        sa.Column("assigned_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.UniqueConstraint("queue_id", "snippet_id", "user_id", name="uq_assignments_item_user"),
    )
    op.create_index("ix_assignments_user", "assignments", ["user_id", "queue_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.Integer, sa.ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), nullable=False),
        _user_fk(),
        sa.Column("label_id", sa.Integer, sa.ForeignKey("labels.id", ondelete="SET NULL"), nullable=True),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("idem_key", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("undone_at", _TS, nullable=True),
        sa.UniqueConstraint("user_id", "idem_key", name="uq_submissions_idem_key"),
        sa.CheckConstraint("label IN ('injurious', 'safe', 'unsure')", name="ck_submissions_label"),
    )
    # One live label per labeller per item per queue; an undone one no longer counts.
    op.create_index(
        "uq_submissions_live", "submissions", ["queue_id", "snippet_id", "user_id"], unique=True,
        sqlite_where=sa.text("undone_at IS NULL"), postgresql_where=sa.text("undone_at IS NULL"),
    )
    op.create_index("ix_submissions_queue_snippet", "submissions", ["queue_id", "snippet_id"])


def _pairs_and_finds() -> None:
    op.create_table(
        "pair_tasks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("first", sa.Text, nullable=False),
        sa.Column("second", sa.Text, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("wanted", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "pair_assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("pair_tasks.id", ondelete="CASCADE"), nullable=False),
        _user_fk(),
        sa.Column("left_is_first", sa.Boolean, nullable=False),
        sa.Column("assigned_at", _TS, nullable=False),
        sa.UniqueConstraint("task_id", "user_id", name="uq_pair_assignments_task_user"),
    )
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("pair_tasks.id", ondelete="CASCADE"), nullable=False),
        _user_fk(),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("outcome", sa.Float, nullable=False),
        sa.Column("idem_key", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("user_id", "idem_key", name="uq_comparisons_idem_key"),
        sa.UniqueConstraint("task_id", "user_id", name="uq_comparisons_task_user"),
        sa.CheckConstraint("outcome IN (0.0, 0.5, 1.0)", name="ck_comparisons_outcome"),
    )
    op.create_table(
        "redteam_finds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _user_fk(),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("completion", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("idem_key", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reviewed_at", _TS, nullable=True),
        sa.Column("review_note", sa.Text, nullable=True),
        sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("user_id", "idem_key", name="uq_redteam_finds_idem_key"),
        sa.CheckConstraint("status IN ('pending', 'confirmed', 'rejected')", name="ck_redteam_finds_status"),
    )
    op.create_index("ix_redteam_finds_status", "redteam_finds", ["status"])


def upgrade() -> None:
    """Create the app's tables."""
    _accounts()
    _labelling()
    _pairs_and_finds()


def downgrade() -> None:
    """Drop the app's tables (labels the app wrote stay in ``labels`` and ``snippets``)."""
    op.drop_index("ix_redteam_finds_status", table_name="redteam_finds")
    for table in ("redteam_finds", "comparisons", "pair_assignments", "pair_tasks"):
        op.drop_table(table)
    op.drop_index("ix_submissions_queue_snippet", table_name="submissions")
    op.drop_index("uq_submissions_live", table_name="submissions")
    op.drop_table("submissions")
    op.drop_index("ix_assignments_user", table_name="assignments")
    op.drop_table("assignments")
    op.drop_index("ix_queue_items_priority", table_name="queue_items")
    op.drop_table("queue_items")
    op.drop_table("queues")
    op.drop_table("instructions")
    op.drop_index("ix_login_failures_key", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_table("invites")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("users")
