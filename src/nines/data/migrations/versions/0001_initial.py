"""Initial schema: snippets, named datasets and dataset membership.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``snippets``, ``datasets`` and ``dataset_snippets``."""
    op.create_table(
        "snippets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("completion", sa.Text, nullable=False),
        sa.Column("label", sa.String(16), nullable=True),
        sa.Column("source", sa.String(64), nullable=False, server_default="initial"),
        sa.Column("labeller", sa.String(128), nullable=True),
        sa.Column("split", sa.String(8), nullable=True),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("label IS NULL OR label IN ('injurious', 'safe', 'unsure')", name="ck_snippets_label"),
        sa.CheckConstraint("split IS NULL OR split IN ('train', 'val', 'test')", name="ck_snippets_split"),
    )
    op.create_index("ix_snippets_content_hash", "snippets", ["content_hash"])
    op.create_index("ix_snippets_source", "snippets", ["source"])
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
    )
    op.create_table(
        "dataset_snippets",
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_dataset_snippets_snippet_id", "dataset_snippets", ["snippet_id"])


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_index("ix_dataset_snippets_snippet_id", table_name="dataset_snippets")
    op.drop_table("dataset_snippets")
    op.drop_table("datasets")
    op.drop_index("ix_snippets_source", table_name="snippets")
    op.drop_index("ix_snippets_content_hash", table_name="snippets")
    op.drop_table("snippets")
