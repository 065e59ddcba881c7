"""Dataset tasks: the task (predicate) a dataset's snippets are labelled for.

``datasets.task`` holds a task's name (``injury``, ``safetext``, a team's own). Datasets stored
before tasks existed get NULL, which reads as the injury task, the only one there was.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``datasets.task``."""
    op.add_column("datasets", sa.Column("task", sa.String(40), nullable=True))


def downgrade() -> None:
    """Drop it again (a plain ``DROP COLUMN``, SQLite 3.35+, not a table copy that would cascade)."""
    op.drop_column("datasets", "task")
