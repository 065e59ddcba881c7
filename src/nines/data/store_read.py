"""The reading half of :class:`nines.data.store.Store`: get, query, count, label history, export.

Kept apart from the writes so neither module grows past a screenful of methods; ``Store``
inherits these and supplies :attr:`StoreReads.engine`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from nines.data.io import write_jsonl
from nines.data.record import Label, Snippet
from nines.data.schema import datasets_table, labels_table, snippets_table
from nines.data.store_engine import StoreError
from nines.data.store_rows import LabelRecord, filtered, label_record_from, snippet_from

__all__ = ["StoreReads"]


class StoreReads:
    """Reading snippets, labels and datasets; each method takes an optional ``conn`` to read in."""

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (the store supplies it)."""
        raise NotImplementedError

    def _own(self, conn: Connection) -> Connection:
        """``conn`` if it is on this store's engine; reads and writes never mix databases."""
        if conn.engine is not self.engine:
            raise StoreError(f"this connection is not on {self!r}; open one with store.transaction()")
        return conn

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is None:
            with self.engine.connect() as new:
                yield new
        else:
            yield self._own(conn)

    # -- units of work (the store's writes join them too)

    @contextmanager
    def transaction(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A unit of work: one transaction that store calls given its connection join.

        Args:
            conn: an open transaction on this store's engine to join instead of starting one
                (then committing is the caller's business).

        Yields:
            The connection; the transaction commits when the block ends and rolls back on
            any exception.

        Raises:
            StoreError: ``conn`` belongs to another engine or has no transaction open.
        """
        if conn is None:
            with self.engine.begin() as new:
                yield new
            return
        if not self._own(conn).in_transaction():
            raise StoreError("this connection has no open transaction; open one with store.transaction()")
        yield conn

    # -- reading

    def _require(self, conn: Connection, id: int) -> None:
        if conn.execute(sa.select(snippets_table.c.id).where(snippets_table.c.id == id)).first() is None:
            raise KeyError(f"no snippet with id {id!r} in {self!r}")

    def get(self, id: int, *, conn: Connection | None = None) -> Snippet:
        """The snippet with this id.

        Raises:
            KeyError: no snippet has this id.
        """
        with self._reading(conn) as c:
            row = c.execute(sa.select(snippets_table).where(snippets_table.c.id == id)).first()
        if row is None:
            raise KeyError(f"no snippet with id {id!r} in {self!r}")
        return snippet_from(row)

    def query(
        self,
        dataset: str | None = None,
        source: str | None = None,
        split: str | None = None,
        label: Label | str | None = None,
        limit: int | None = None,
        *,
        labelled: bool | None = None,
        conn: Connection | None = None,
    ) -> list[Snippet]:
        """Snippets matching every given filter, in id order (``None`` means "any").

        Args:
            dataset: only members of this named dataset (an unknown name matches nothing).
            source: only this source.
            split: only this split.
            label: only this current label.
            limit: at most this many.
            labelled: ``True`` for labelled snippets only, ``False`` for unlabelled only.
            conn: a unit of work to read in (see :meth:`transaction`).

        Returns:
            The snippets.

        Raises:
            ValueError: ``label`` or ``split`` is not a valid value.
        """
        stmt = filtered(sa.select(snippets_table), dataset, source, split, label, labelled)
        stmt = stmt.order_by(snippets_table.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._reading(conn) as c:
            return [snippet_from(r) for r in c.execute(stmt)]

    def count(
        self,
        dataset: str | None = None,
        source: str | None = None,
        split: str | None = None,
        label: Label | str | None = None,
        limit: int | None = None,
        *,
        labelled: bool | None = None,
        conn: Connection | None = None,
    ) -> int:
        """How many snippets :meth:`query` would return with the same filters."""
        inner = filtered(sa.select(snippets_table.c.id), dataset, source, split, label, labelled)
        if limit is not None:
            inner = inner.order_by(snippets_table.c.id).limit(limit)
        stmt = sa.select(sa.func.count()).select_from(inner.subquery())
        with self._reading(conn) as c:
            return int(c.execute(stmt).scalar_one())

    def labels_for(self, id: int, *, conn: Connection | None = None) -> list[LabelRecord]:
        """Every label recorded for a snippet, oldest first.

        Raises:
            KeyError: no snippet has this id.
        """
        t = labels_table
        with self._reading(conn) as c:
            self._require(c, id)
            rows = c.execute(sa.select(t).where(t.c.snippet_id == id).order_by(t.c.created_at, t.c.id)).all()
        return [label_record_from(r) for r in rows]

    def datasets(self, *, conn: Connection | None = None) -> list[str]:
        """Names of all datasets, sorted."""
        with self._reading(conn) as c:
            return list(c.execute(sa.select(datasets_table.c.name).order_by(datasets_table.c.name)).scalars())

    # -- files

    def export_jsonl(
        self,
        path: str | os.PathLike[str],
        dataset: str | None = None,
        source: str | None = None,
        split: str | None = None,
        label: Label | str | None = None,
        limit: int | None = None,
        *,
        labelled: bool | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Write the snippets :meth:`query` returns for these filters to a JSONL file, atomically.

        Returns:
            How many snippets were written.
        """
        rows = self.query(dataset=dataset, source=source, split=split, label=label, limit=limit, labelled=labelled,
                          conn=conn)
        write_jsonl(rows, path)
        return len(rows)
