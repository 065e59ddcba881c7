"""The store's tables: the one SQLAlchemy definition of snippets, labels and datasets.

:data:`metadata` holds every table in the database. The store's four are defined here; the
web app adds its own to the same :data:`metadata` in :mod:`nines.app.schema` (their foreign
keys point at ``snippets`` and ``labels``, so they must share it). The Alembic migrations in
``migrations/versions`` create the schema; ``tests/data/test_store_schema.py`` upgrades a fresh
database and compares it with :data:`metadata`, so a column added to only one of them fails.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["PROMPT_ID_MAX", "TASK_NAME_MAX", "TIMESTAMP", "dataset_snippets_table", "datasets_table", "labels_table", "metadata", "snippets_table"]

metadata = sa.MetaData()

#: The longest prompt id ``snippets.prompt_id`` holds (the store refuses longer ones).
PROMPT_ID_MAX = 128

#: The longest task name ``datasets.task`` holds (a task's name is at most 40 characters).
TASK_NAME_MAX = 40

#: Every timestamp is stored timezone-aware (UTC).
TIMESTAMP = sa.DateTime(timezone=True)

snippets_table = sa.Table(
    "snippets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("completion", sa.Text, nullable=False),
    sa.Column("label", sa.String(16)),
    sa.Column("source", sa.String(64), nullable=False, server_default="initial"),
    sa.Column("labeller", sa.String(128)),
    sa.Column("split", sa.String(8)),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # Migration 0006: the id of the Prompt the snippet answers (nines.generate.base.Prompt.id).
    sa.Column("prompt_id", sa.String(PROMPT_ID_MAX)),
    sa.CheckConstraint("label IS NULL OR label IN ('injurious', 'safe', 'unsure')", name="ck_snippets_label"),
    sa.CheckConstraint("split IS NULL OR split IN ('train', 'val', 'test')", name="ck_snippets_split"),
    sa.Index("ix_snippets_content_hash", "content_hash"),
    sa.Index("ix_snippets_source", "source"),
    sa.Index("ix_snippets_label", "label"),
    sa.Index("ix_snippets_prompt_id", "prompt_id"),
)

datasets_table = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("description", sa.Text),
    # Migration 0007: the task the dataset is labelled for (nines.tasks); NULL (older stores) is injury.
    sa.Column("task", sa.String(TASK_NAME_MAX)),
)

dataset_snippets_table = sa.Table(
    "dataset_snippets",
    metadata,
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_dataset_snippets_snippet_id", "snippet_id"),
)

# Migration 0002: every label any labeller gave; ``snippets.label`` is the current one.
labels_table = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("labeller", sa.String(128)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.CheckConstraint("label IN ('injurious', 'safe', 'unsure')", name="ck_labels_label"),
    sa.Index("ix_labels_snippet_id", "snippet_id"),
)
