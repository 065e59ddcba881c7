"""Label history: every label any labeller gave a snippet.

``snippets.label`` stays the current (consensus) label; ``labels`` keeps who said what and
when. Existing labels are copied across so the history starts complete.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``labels`` and back-fill it from ``snippets.label``."""
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("labeller", sa.String(128), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("label IN ('injurious', 'safe', 'unsure')", name="ck_labels_label"),
    )
    op.create_index("ix_labels_snippet_id", "labels", ["snippet_id"])
    op.create_index("ix_snippets_label", "snippets", ["label"])
    op.execute(
        "INSERT INTO labels (snippet_id, label, labeller, note, created_at) "
        "SELECT id, label, labeller, 'copied from snippets.label by migration 0002', created_at "
        "FROM snippets WHERE label IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    """Drop the label history (``snippets.label`` keeps the current labels)."""
    op.drop_index("ix_snippets_label", table_name="snippets")
    op.drop_index("ix_labels_snippet_id", table_name="labels")
    op.drop_table("labels")
