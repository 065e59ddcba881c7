"""Auth hardening: invites count the taken usernames tried with them; login failures by address.

``invites.clashes`` counts attempts to accept an invite with a username that is taken (or looks
like one that is), so an invite link cannot be used to probe usernames without limit: after a
few clashes it is used up. The extra index on ``login_failures`` serves the per-address limit
(failures from one address across all accounts); the per-account limit uses the existing
``(username, ip, at)`` index.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``invites.clashes`` and an ``(ip, at)`` index on ``login_failures``."""
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("clashes", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_login_failures_ip", "login_failures", ["ip", "at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_login_failures_ip", table_name="login_failures")
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("clashes")
