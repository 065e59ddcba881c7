"""The snippet store: SQLite by default, PostgreSQL optional, schema managed by Alembic.

Example::

    with Store("runs/x/nines.db") as store:
        ids = store.add(snippets, dataset="seed")
        store.set_label(ids[0], "injurious", labeller="alice", note="knife")
        train = store.query(split="train", label="safe")

Opening a store migrates its database to the newest schema. Every write is one transaction:
if any part fails, nothing of it is kept and earlier data is untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from nines.data.io import read_jsonl, write_jsonl
from nines.data.record import LABELS, SPLITS, Label, Snippet

__all__ = ["LabelRecord", "Store", "StoreError", "content_hash", "make_engine", "upgrade"]

POSTGRES_HINT = "pip install 'nines[postgres]'"

# Table definitions mirror the migrations in ``migrations/versions``; the migrations own the schema.
_meta = sa.MetaData()
snippets_table = sa.Table(
    "snippets",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("completion", sa.Text, nullable=False),
    sa.Column("label", sa.String(16)),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("labeller", sa.String(128)),
    sa.Column("split", sa.String(8)),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
)
datasets_table = sa.Table(
    "datasets",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("description", sa.Text),
)
dataset_snippets_table = sa.Table(
    "dataset_snippets",
    _meta,
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id"), primary_key=True),
)
labels_table = sa.Table(
    "labels",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("snippet_id", sa.Integer, sa.ForeignKey("snippets.id"), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("labeller", sa.String(128)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class StoreError(RuntimeError):
    """The database cannot be opened or used (missing driver, schema from a newer nines, ...)."""


@dataclass(frozen=True)
class LabelRecord:
    """One label a labeller gave a snippet (a row of the ``labels`` table).

    Attributes:
        id: the row's primary key.
        snippet_id: the labelled snippet.
        label: what was said.
        labeller: who said it.
        note: an optional free-text reason.
        created_at: when it was recorded (UTC).
    """

    id: int
    snippet_id: int
    label: Label
    labeller: str | None
    note: str | None
    created_at: datetime


def content_hash(prompt: str, completion: str) -> str:
    """The SHA-256 hex digest identifying a (prompt, completion) pair, for finding duplicates."""
    return hashlib.sha256(f"{prompt}\x1f{completion}".encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# --------------------------------------------------------------------------- engines


def _to_url(url: str | os.PathLike[str]) -> URL:
    """A SQLAlchemy URL from a file path or URL string; ``postgresql://`` means psycopg 3."""
    text = os.fspath(url)
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser()))
    parsed = make_url(text)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or (url.database or "").startswith("file::memory:")


def _sqlite_engine(url: URL) -> Engine:
    memory = _is_memory(url)
    if not memory and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 30}}
    if memory:
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves so DDL is transactional too
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def make_engine(url: str | os.PathLike[str]) -> Engine:
    """Create an engine for a store location.

    Args:
        url: a SQLite file path, a ``sqlite:///`` URL, or a ``postgresql://`` /
            ``postgresql+psycopg://`` URL.

    Returns:
        The engine. For SQLite, WAL journalling and foreign keys are on and transactions
        (including DDL) are real.

    Raises:
        StoreError: the PostgreSQL driver is not installed.
    """
    parsed = _to_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ImportError as exc:
        raise StoreError(
            f"cannot use {parsed.render_as_string(hide_password=True)}: the driver is not installed "
            f"({exc}); run: {POSTGRES_HINT}"
        ) from exc


# --------------------------------------------------------------------------- migrations


@contextmanager
def _migrations_dir() -> Iterator[Path]:
    folder = resources.files("nines.data").joinpath("migrations")
    if isinstance(folder, Path):
        yield folder
        return
    with resources.as_file(folder) as path:  # zipped installs (Python >= 3.12)
        yield Path(path)


@contextmanager
def alembic_config(connection: Connection | None = None) -> Iterator[Config]:
    """An Alembic :class:`Config` for the packaged migrations (no ``alembic.ini`` needed).

    Args:
        connection: the connection ``env.py`` should migrate, stored in ``config.attributes``.

    Yields:
        The config, valid while the context is open.
    """
    with _migrations_dir() as folder:
        cfg = Config()
        cfg.set_main_option("script_location", str(folder).replace("%", "%%"))
        if connection is not None:
            cfg.attributes["connection"] = connection
        yield cfg


def _check_known(script: ScriptDirectory, current: str | None) -> None:
    if current is None:
        return
    try:
        script.get_revision(current)
    except CommandError:
        raise StoreError(
            f"the database schema is at revision {current!r}, which this version of nines does not know "
            f"(newest known: {script.get_current_head()}); upgrade nines to open it"
        ) from None


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate a database to ``revision`` in one transaction; a no-op when already there.

    Args:
        engine: from :func:`make_engine`.
        revision: an Alembic revision id (``"0001"``) or ``"head"``.

    Returns:
        The revision the database is at afterwards.

    Raises:
        StoreError: the database is at a revision this code does not know.
    """
    with engine.begin() as conn, alembic_config(conn) as cfg:
        script = ScriptDirectory.from_config(cfg)
        current = MigrationContext.configure(conn).get_current_revision()
        _check_known(script, current)
        target = script.get_current_head() if revision == "head" else revision
        if current != target:
            command.upgrade(cfg, revision)
        return MigrationContext.configure(conn).get_current_revision()


# --------------------------------------------------------------------------- row <-> Snippet


def _label_value(label: Label | str | None, what: str) -> str | None:
    if label is None:
        return None
    value = label.value if isinstance(label, Label) else label
    if value not in LABELS:
        raise ValueError(f"{what}: label must be one of {', '.join(LABELS)} or None, got {label!r}")
    return value


def _check_split(split: str | None, what: str) -> None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"{what}: split must be one of {', '.join(SPLITS)} or None, got {split!r}")


def _check_text(snippet: Snippet, what: str) -> None:
    for name in ("prompt", "completion", "source"):
        if not isinstance(getattr(snippet, name), str):
            raise ValueError(f"{what}: {name} must be a string, got {getattr(snippet, name)!r}")


def _check_metadata(metadata: Any, what: str) -> None:
    if not isinstance(metadata, dict):
        raise ValueError(f"{what}: metadata must be a dict, got {type(metadata).__name__}")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: metadata is not JSON-serialisable ({exc})") from None


def _row_for(snippet: Snippet, index: int, now: datetime) -> dict[str, Any]:
    what = f"snippet #{index} ({snippet.prompt[:30]!r}...)" if isinstance(snippet.prompt, str) else f"snippet #{index}"
    _check_text(snippet, what)
    label = _label_value(snippet.label, what)
    _check_split(snippet.split, what)
    _check_metadata(snippet.metadata, what)
    return {
        "prompt": snippet.prompt,
        "completion": snippet.completion,
        "label": label,
        "source": snippet.source,
        "labeller": snippet.labeller,
        "split": snippet.split,
        "metadata": snippet.metadata,
        "created_at": now,
        "content_hash": content_hash(snippet.prompt, snippet.completion),
    }


def _snippet_from(row: sa.Row[Any]) -> Snippet:
    m = row._mapping
    return Snippet(
        prompt=m["prompt"],
        completion=m["completion"],
        label=Label(m["label"]) if m["label"] is not None else None,
        source=m["source"],
        labeller=m["labeller"],
        split=m["split"],
        metadata=dict(m["metadata"] or {}),
        id=m["id"],
    )


# --------------------------------------------------------------------------- the store


class Store:
    """Snippets, their labels and named datasets in one SQL database.

    Args:
        url: a SQLite file path (parent folders are created), a ``sqlite:///`` URL, or a
            ``postgresql://`` / ``postgresql+psycopg://`` URL (needs ``pip install 'nines[postgres]'``).

    Raises:
        StoreError: the driver is missing or the schema is newer than this code.
    """

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = _to_url(url)
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
            return MigrationContext.configure(conn).get_current_revision() or ""

    # -- writing

    def add(self, snippets: Iterable[Snippet], dataset: str | None = None) -> list[int]:
        """Store snippets in one transaction: all of them or, on any error, none.

        Labelled snippets also get a row in the label history. On success each snippet's
        ``id`` is set to its new primary key (an ``id`` it had before is ignored).

        Args:
            snippets: the snippets to store.
            dataset: a dataset name to add them to (created if new).

        Returns:
            The new ids, in input order.

        Raises:
            ValueError: a snippet is invalid (bad label or split, metadata not JSON-serialisable);
                nothing is stored.
        """
        items = list(snippets)
        now = _now()
        rows = [_row_for(s, i, now) for i, s in enumerate(items)]
        with self.engine.begin() as conn:
            ids = self._insert_snippets(conn, rows)
            self._insert_initial_labels(conn, ids, rows, now)
            if dataset is not None:
                self._link(conn, self._dataset_id(conn, dataset), ids)
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
    def _insert_initial_labels(conn: Connection, ids: list[int], rows: list[dict[str, Any]], now: datetime) -> None:
        labelled = [
            {"snippet_id": i, "label": r["label"], "labeller": r["labeller"], "note": None, "created_at": now}
            for i, r in zip(ids, rows)
            if r["label"] is not None
        ]
        if labelled:
            conn.execute(labels_table.insert(), labelled)

    @staticmethod
    def _dataset_id(conn: Connection, name: str, description: str | None = None) -> int:
        """The id of the named dataset, creating it if new."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"dataset name must be a non-empty string, got {name!r}")
        found = conn.execute(sa.select(datasets_table.c.id).where(datasets_table.c.name == name)).scalar()
        if found is not None:
            return int(found)
        stmt = (
            datasets_table.insert()
            .values(name=name, created_at=_now(), description=description)
            .returning(datasets_table.c.id)
        )
        return int(conn.execute(stmt).scalar_one())

    @staticmethod
    def _link(conn: Connection, dataset_id: int, ids: Sequence[int]) -> None:
        existing = set(
            conn.execute(
                sa.select(dataset_snippets_table.c.snippet_id).where(dataset_snippets_table.c.dataset_id == dataset_id)
            ).scalars()
        )
        new = [{"dataset_id": dataset_id, "snippet_id": i} for i in dict.fromkeys(ids) if i not in existing]
        if new:
            conn.execute(dataset_snippets_table.insert(), new)

    def create_dataset(self, name: str, description: str | None = None) -> None:
        """Create an empty named dataset (no-op if it exists).

        Args:
            name: the dataset name.
            description: free text shown alongside it.
        """
        with self.engine.begin() as conn:
            self._dataset_id(conn, name, description)

    def add_to_dataset(self, dataset: str, ids: Iterable[int]) -> None:
        """Put already-stored snippets into a dataset (created if new); members stay members.

        Args:
            dataset: the dataset name.
            ids: snippet ids.

        Raises:
            KeyError: an id is not in the store (nothing is changed).
        """
        wanted = list(ids)
        with self.engine.begin() as conn:
            for snippet_id in wanted:
                self._require(conn, snippet_id)
            self._link(conn, self._dataset_id(conn, dataset), wanted)

    def set_label(self, id: int, label: Label | str, labeller: str | None, note: str | None = None) -> None:
        """Record a label in the history and make it the snippet's current label.

        Args:
            id: the snippet id.
            label: ``injurious``, ``safe`` or ``unsure``.
            labeller: who gave it.
            note: an optional reason.

        Raises:
            KeyError: no snippet has this id.
            ValueError: the label is not a valid label.
        """
        value = _label_value(label, f"set_label({id})")
        if value is None:
            raise ValueError(f"set_label({id}): label must be one of {', '.join(LABELS)}, got None")
        with self.engine.begin() as conn:
            self._require(conn, id)
            conn.execute(
                labels_table.insert().values(snippet_id=id, label=value, labeller=labeller, note=note, created_at=_now())
            )
            conn.execute(
                snippets_table.update().where(snippets_table.c.id == id).values(label=value, labeller=labeller)
            )

    # -- reading

    def _require(self, conn: Connection, id: int) -> None:
        if conn.execute(sa.select(snippets_table.c.id).where(snippets_table.c.id == id)).first() is None:
            raise KeyError(f"no snippet with id {id!r} in {self!r}")

    def get(self, id: int) -> Snippet:
        """The snippet with this id.

        Raises:
            KeyError: no snippet has this id.
        """
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(snippets_table).where(snippets_table.c.id == id)).first()
        if row is None:
            raise KeyError(f"no snippet with id {id!r} in {self!r}")
        return _snippet_from(row)

    def _filtered(
        self,
        stmt: sa.Select[Any],
        dataset: str | None,
        source: str | None,
        split: str | None,
        label: Label | str | None,
        labelled: bool | None,
    ) -> sa.Select[Any]:
        t = snippets_table
        if dataset is not None:
            member = (
                sa.select(dataset_snippets_table.c.snippet_id)
                .join(datasets_table, datasets_table.c.id == dataset_snippets_table.c.dataset_id)
                .where(datasets_table.c.name == dataset)
            )
            stmt = stmt.where(t.c.id.in_(member))
        if source is not None:
            stmt = stmt.where(t.c.source == source)
        if split is not None:
            _check_split(split, "query")
            stmt = stmt.where(t.c.split == split)
        if label is not None:
            stmt = stmt.where(t.c.label == _label_value(label, "query"))
        if labelled is not None:
            stmt = stmt.where(t.c.label.is_not(None) if labelled else t.c.label.is_(None))
        return stmt

    def query(
        self,
        dataset: str | None = None,
        source: str | None = None,
        split: str | None = None,
        label: Label | str | None = None,
        limit: int | None = None,
        *,
        labelled: bool | None = None,
    ) -> list[Snippet]:
        """Snippets matching every given filter, in id order (``None`` means "any").

        Args:
            dataset: only members of this named dataset (an unknown name matches nothing).
            source: only this source.
            split: only this split.
            label: only this current label.
            limit: at most this many.
            labelled: ``True`` for labelled snippets only, ``False`` for unlabelled only.

        Returns:
            The snippets.

        Raises:
            ValueError: ``label`` or ``split`` is not a valid value.
        """
        stmt = self._filtered(sa.select(snippets_table), dataset, source, split, label, labelled)
        stmt = stmt.order_by(snippets_table.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [_snippet_from(r) for r in conn.execute(stmt)]

    def count(
        self,
        dataset: str | None = None,
        source: str | None = None,
        split: str | None = None,
        label: Label | str | None = None,
        limit: int | None = None,
        *,
        labelled: bool | None = None,
    ) -> int:
        """How many snippets :meth:`query` would return with the same filters."""
        inner = self._filtered(sa.select(snippets_table.c.id), dataset, source, split, label, labelled)
        if limit is not None:
            inner = inner.order_by(snippets_table.c.id).limit(limit)
        stmt = sa.select(sa.func.count()).select_from(inner.subquery())
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def labels_for(self, id: int) -> list[LabelRecord]:
        """Every label recorded for a snippet, oldest first.

        Raises:
            KeyError: no snippet has this id.
        """
        t = labels_table
        with self.engine.connect() as conn:
            self._require(conn, id)
            rows = conn.execute(sa.select(t).where(t.c.snippet_id == id).order_by(t.c.created_at, t.c.id)).all()
        return [
            LabelRecord(
                id=r.id, snippet_id=r.snippet_id, label=Label(r.label), labeller=r.labeller, note=r.note,
                created_at=_utc(r.created_at),
            )
            for r in rows
        ]

    def datasets(self) -> list[str]:
        """Names of all datasets, sorted."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(datasets_table.c.name).order_by(datasets_table.c.name)).scalars())

    # -- files

    def import_jsonl(self, path: str | os.PathLike[str], dataset: str | None = None) -> list[int]:
        """Validate a whole JSONL file, then store all its snippets in one transaction.

        Nothing is stored if any row is bad, so a file is never half-imported.

        Args:
            path: the JSONL file (see :mod:`nines.data.io` for the format).
            dataset: a dataset to add the snippets to.

        Returns:
            The new ids, in file order.

        Raises:
            nines.data.io.DataError: a row is bad; the message names file, line and field.
        """
        return self.add(read_jsonl(path), dataset=dataset)

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
    ) -> int:
        """Write the snippets :meth:`query` returns for these filters to a JSONL file, atomically.

        Returns:
            How many snippets were written.
        """
        rows = self.query(dataset=dataset, source=source, split=split, label=label, limit=limit, labelled=labelled)
        write_jsonl(rows, path)
        return len(rows)
