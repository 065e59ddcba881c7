"""Adjudications: an admin's decision on a snippet whose labels are tied.

The snippet's stored label is the most common of its labels; when two or more labels tie for
most common, the adjudication (one per snippet, replaced when the admin decides again) is what
the snippet gets. It is kept apart from ``labels`` because it is not a vote: agreement is
computed over the labellers' labels only.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``adjudications``."""
    op.create_table(
        "adjudications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("admin_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("admin", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("snippet_id", name="uq_adjudications_snippet"),
        sa.CheckConstraint("label IN ('injurious', 'safe', 'unsure')", name="ck_adjudications_label"),
    )


def downgrade() -> None:
    """Drop ``adjudications`` (snippets keep the label they have)."""
    op.drop_table("adjudications")
