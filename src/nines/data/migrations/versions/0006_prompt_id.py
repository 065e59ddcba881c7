"""Prompt ids: the id of the prompt a snippet answers, so nothing is looked up by prompt text.

Rows stored before prompts had ids get NULL.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable, indexed ``snippets.prompt_id``."""
    op.add_column("snippets", sa.Column("prompt_id", sa.String(128), nullable=True))
    op.create_index("ix_snippets_prompt_id", "snippets", ["prompt_id"])


def downgrade() -> None:
    """Drop it again.

    A plain ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35+), not a batch table copy: copying
    ``snippets`` would drop the old table, and with foreign keys on that deletes every label,
    membership and queue item through ``ON DELETE CASCADE``.
    """
    op.drop_index("ix_snippets_prompt_id", table_name="snippets")
    op.drop_column("snippets", "prompt_id")
