"""The snippet store: SQLite by default, PostgreSQL optional, schema managed by Alembic.

Example::

    with Store("runs/x/nines.db") as store:
        ids = store.add(snippets, dataset="seed")
        store.set_label(ids[0], "injurious", labeller="alice", note="knife")
        train = store.query(split="train", label="safe")

Opening a store migrates its database to the newest schema. The store is the only writer of
the snippets, labels and datasets tables, so its checks guard every row. Each write is one
transaction: if any part fails, nothing of it is kept and earlier data is untouched. To make
several writes, or your own statements and a store write, one transaction, open a unit of work
and pass its connection to each call::

    with store.transaction() as conn:
        conn.execute(my_table.insert().values(...))
        store.add(snippets, dataset="seed", conn=conn)

The table definitions are in :mod:`nines.data.schema`, engines and migrations in
:mod:`nines.data.store_engine`, row checks in :mod:`nines.data.store_rows`; the names callers
import from here (``Store, StoreError, LabelRecord, content_hash, make_engine, upgrade``, the
tables) are re-exported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from nines.data.io import read_jsonl
from nines.data.record import LABELS, Label, Snippet
from nines.data.schema import dataset_snippets_table, datasets_table, labels_table, snippets_table
from nines.data.store_engine import StoreError, alembic_config, current_revision, make_engine, to_url, upgrade
from nines.data.store_rows import (
    LabelRecord,
    check_dataset_name,
    content_hash,
    label_value,
    now,
    row_for,
)
from nines.data.store_tasks import DatasetTasks, TaskMismatch

__all__ = [
    "LabelRecord", "Store", "StoreError", "TaskMismatch", "alembic_config", "content_hash", "dataset_snippets_table",
    "datasets_table", "labels_table", "make_engine", "snippets_table", "upgrade",
]


class Store(DatasetTasks):
    """Snippets, their labels and named datasets in one SQL database.

    Every method takes an optional keyword ``conn``: a connection from :meth:`transaction` (or
    any open transaction on :attr:`engine`). With it, the call joins that transaction and
    commits or rolls back with it; without it, a write is its own transaction.

    Args:
        url: a SQLite file path (parent folders are created), a ``sqlite:///`` URL, or a
            ``postgresql://`` / ``postgresql+psycopg://`` URL (needs ``pip install 'nines[postgres]'``).

    Raises:
        StoreError: the driver is missing or the schema is newer than this code.
    """

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = to_url(url)
        self._engine: Engine | None = make_engine(url)
        try:
            upgrade(self._engine)
        except BaseException:
            self.close()
            raise

    # -- lifecycle

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (raises once the store is closed)."""
        if self._engine is None:
            raise StoreError("the store is closed")
        return self._engine

    def close(self) -> None:
        """Release all connections; the store cannot be used afterwards."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    def schema_version(self) -> str:
        """The Alembic revision the database is at, e.g. ``"0002"``."""
        with self.engine.connect() as conn:
            return current_revision(conn) or ""

    # -- writing snippets and datasets

    def add(
        self,
        snippets: Iterable[Snippet],
        dataset: str | None = None,
        *,
        note: str | None = None,
        conn: Connection | None = None,
    ) -> list[int]:
        """Store snippets in one transaction: all of them or, on any error, none.

        Labelled snippets also get a row in the label history. On success each snippet's
        ``id`` is set to its new primary key (an ``id`` it had before is ignored).

        Args:
            snippets: the snippets to store.
            dataset: a dataset name to add them to (created if new).
            note: the reason recorded with each labelled snippet's first history row.
            conn: a unit of work to join (see :meth:`transaction`).

        Returns:
            The new ids, in input order.

        Raises:
            ValueError: a snippet is invalid (bad label or split, metadata not JSON-serialisable);
                nothing is stored.
        """
        items = list(snippets)
        stamp = now()
        rows = [row_for(s, i, stamp) for i, s in enumerate(items)]
        if dataset is not None:
            check_dataset_name(dataset)
        with self.transaction(conn) as tx:
            ids = self._insert_snippets(tx, rows)
            self._insert_initial_labels(tx, ids, rows, stamp, note)
            if dataset is not None and ids:
                # The ids are new, so none is a member yet: no need to look for existing links.
                links = [{"dataset_id": self._dataset_id(tx, dataset), "snippet_id": i} for i in ids]
                tx.execute(dataset_snippets_table.insert(), links)
            elif dataset is not None:
                self._dataset_id(tx, dataset)
        for snippet, new_id in zip(items, ids):
            snippet.id = new_id
        return ids

    @staticmethod
    def _insert_snippets(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        stmt = snippets_table.insert().returning(snippets_table.c.id, sort_by_parameter_order=True)
        return [int(r[0]) for r in conn.execute(stmt, rows)]

    @staticmethod
    def _insert_initial_labels(
        conn: Connection, ids: list[int], rows: list[dict[str, Any]], stamp: datetime, note: str | None = None
    ) -> None:
        labelled = [
            {"snippet_id": i, "label": r["label"], "labeller": r["labeller"], "note": note, "created_at": stamp}
            for i, r in zip(ids, rows)
            if r["label"] is not None
        ]
        if labelled:
            conn.execute(labels_table.insert(), labelled)

    @staticmethod
    def _dataset_id(conn: Connection, name: str, description: str | None = None) -> int:
        """The id of the named dataset, creating it if new."""
        check_dataset_name(name)
        found = conn.execute(sa.select(datasets_table.c.id).where(datasets_table.c.name == name)).scalar()
        if found is not None:
            return int(found)
        stmt = (
            datasets_table.insert()
            .values(name=name, created_at=now(), description=description)
            .returning(datasets_table.c.id)
        )
        return int(conn.execute(stmt).scalar_one())

    def create_dataset(self, name: str, description: str | None = None, *, conn: Connection | None = None) -> int:
        """Create an empty named dataset (no-op if it exists; its description is kept).

        Args:
            name: the dataset name.
            description: free text shown alongside it.
            conn: a unit of work to join (see :meth:`transaction`).

        Returns:
            The dataset's id.

        Raises:
            ValueError: the name is not a non-empty string.
        """
        with self.transaction(conn) as tx:
            return self._dataset_id(tx, name, description)

    def add_to_dataset(self, dataset: str, ids: Iterable[int], *, conn: Connection | None = None) -> None:
        """Put already-stored snippets into a dataset (created if new); members stay members.

        Args:
            dataset: the dataset name.
            ids: snippet ids.
            conn: a unit of work to join (see :meth:`transaction`).

        Raises:
            KeyError: an id is not in the store (nothing is changed).
        """
        wanted = list(dict.fromkeys(ids))
        with self.transaction(conn) as tx:
            for snippet_id in wanted:
                self._require(tx, snippet_id)
            dataset_id = self._dataset_id(tx, dataset)
            ds = dataset_snippets_table
            existing = set(tx.execute(sa.select(ds.c.snippet_id).where(ds.c.dataset_id == dataset_id)).scalars())
            new = [{"dataset_id": dataset_id, "snippet_id": i} for i in wanted if i not in existing]
            if new:
                tx.execute(ds.insert(), new)

    # -- writing labels

    def set_label(
        self, id: int, label: Label | str, labeller: str | None, note: str | None = None, *,
        conn: Connection | None = None,
    ) -> int:
        """Record a label in the history and make it the snippet's current label.

        The last call wins: the current label is whatever was set last, whoever set it. Use
        :meth:`record_label` and :meth:`set_current_label` to store a consensus instead.

        Args:
            id: the snippet id.
            label: ``injurious``, ``safe`` or ``unsure``.
            labeller: who gave it.
            note: an optional reason.
            conn: a unit of work to join (see :meth:`transaction`).

        Returns:
            The new history row's id.

        Raises:
            KeyError: no snippet has this id.
            ValueError: the label is not a valid label.
        """
        with self.transaction(conn) as tx:
            label_id = self.record_label(id, label, labeller, note, conn=tx)
            self.set_current_label(id, label, labeller, conn=tx)
        return label_id

    def record_label(
        self, id: int, label: Label | str, labeller: str | None, note: str | None = None, *,
        conn: Connection | None = None,
    ) -> int:
        """Add a label to the snippet's history only; its current label is left as it is.

        Args:
            id: the snippet id.
            label: ``injurious``, ``safe`` or ``unsure``.
            labeller: who gave it.
            note: an optional reason.
            conn: a unit of work to join (see :meth:`transaction`).

        Returns:
            The new history row's id (for :meth:`remove_label`).

        Raises:
            KeyError: no snippet has this id.
            ValueError: the label is not a valid label.
        """
        value = self._required_label(id, label)
        with self.transaction(conn) as tx:
            self._require(tx, id)
            stmt = labels_table.insert().values(
                snippet_id=id, label=value, labeller=labeller, note=note, created_at=now()
            ).returning(labels_table.c.id)
            return int(tx.execute(stmt).scalar_one())

    def remove_label(self, label_id: int, *, conn: Connection | None = None) -> bool:
        """Delete one row of the label history (a withdrawn label); the current label is left as it is.

        Args:
            label_id: the history row's id, from :meth:`record_label` or :meth:`labels_for`.
            conn: a unit of work to join (see :meth:`transaction`).

        Returns:
            Whether a row was deleted (``False``: there was none with this id).
        """
        with self.transaction(conn) as tx:
            return bool(tx.execute(labels_table.delete().where(labels_table.c.id == label_id)).rowcount)

    def set_current_label(
        self, id: int, label: Label | str | None, labeller: str | None, *, conn: Connection | None = None
    ) -> None:
        """Set the snippet's current label without adding to its history (e.g. the history's consensus).

        Args:
            id: the snippet id.
            label: ``injurious``, ``safe``, ``unsure``, or ``None`` for "undecided".
            labeller: who the label is credited to.
            conn: a unit of work to join (see :meth:`transaction`).

        Raises:
            KeyError: no snippet has this id.
            ValueError: the label is not a valid label.
        """
        value = label_value(label, f"set_current_label({id})")
        with self.transaction(conn) as tx:
            t = snippets_table
            done = tx.execute(t.update().where(t.c.id == id).values(label=value, labeller=labeller))
            if done.rowcount != 1:
                raise KeyError(f"no snippet with id {id!r} in {self!r}")

    @staticmethod
    def _required_label(id: int, label: Label | str) -> str:
        value = label_value(label, f"label for snippet {id}")
        if value is None:
            raise ValueError(f"label for snippet {id}: label must be one of {', '.join(LABELS)}, got None")
        return value

    # -- files

    def import_jsonl(
        self, path: str | os.PathLike[str], dataset: str | None = None, *, conn: Connection | None = None
    ) -> list[int]:
        """Validate a whole JSONL file, then store all its snippets in one transaction.

        Nothing is stored if any row is bad, so a file is never half-imported.

        Args:
            path: the JSONL file (see :mod:`nines.data.io` for the format).
            dataset: a dataset to add the snippets to.
            conn: a unit of work to join (see :meth:`transaction`).

        Returns:
            The new ids, in file order.

        Raises:
            nines.data.io.DataError: a row is bad; the message names file, line and field.
        """
        return self.add(read_jsonl(path), dataset=dataset, conn=conn)
