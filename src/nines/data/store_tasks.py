"""Which task a dataset is labelled for: the store's half of "the predicate is configuration".

A dataset records the name of the task (:class:`nines.tasks.TaskConfig`) its labels answer, in
``datasets.task`` (migration 0007). Stores from before tasks have NULL there, and NULL reads as
the injury task, the only predicate there was. :meth:`DatasetTasks.bind_dataset_task` is what a
writer calls before labelling a dataset for a task: it records the task on first use and refuses
to mix two predicates in one dataset (an ``unsafe`` label and an ``injurious`` one are both stored
as the positive class, so a mixed dataset would silently train and measure the wrong thing).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from nines.data.schema import TASK_NAME_MAX, dataset_snippets_table, datasets_table, snippets_table
from nines.data.store_read import StoreReads
from nines.data.store_rows import check_dataset_name, now

__all__ = ["LEGACY_TASK", "DatasetTasks", "TaskMismatch"]

#: What a NULL ``datasets.task`` means: labelled before tasks existed, for the injury predicate.
LEGACY_TASK = "injury"


class TaskMismatch(ValueError):
    """A dataset labelled for one task was about to be labelled or read for another."""


def _check_task_name(task: object) -> str:
    if not isinstance(task, str) or not task or len(task) > TASK_NAME_MAX:
        raise ValueError(f"a task name must be a non-empty string of at most {TASK_NAME_MAX} characters, "
                         f"got {task!r}; use the task's name, e.g. 'safetext'")
    return task


class DatasetTasks(StoreReads):
    """Reading and recording the task of a dataset; each method takes an optional ``conn``."""

    def dataset_task(self, name: str, *, conn: Connection | None = None) -> str | None:
        """The task name recorded for a dataset, or ``None`` when none is (see :meth:`effective_task`).

        Raises:
            KeyError: there is no dataset of that name.
        """
        check_dataset_name(name)
        with self._reading(conn) as c:
            row = c.execute(sa.select(datasets_table.c.task).where(datasets_table.c.name == name)).first()
        if row is None:
            raise KeyError(f"no dataset named {name!r} in {self!r}")
        return row.task

    def effective_task(self, name: str, *, conn: Connection | None = None) -> str | None:
        """The task a dataset's labels answer: the recorded one; for an unrecorded dataset that holds
        labelled snippets, ``injury`` (it was labelled before tasks); ``None`` for one with no labels yet.

        Raises:
            KeyError: there is no dataset of that name.
        """
        with self._reading(conn) as c:
            recorded = self.dataset_task(name, conn=c)
            if recorded is not None:
                return recorded
            return LEGACY_TASK if self._has_labels(c, name) else None

    @staticmethod
    def _has_labels(conn: Connection, name: str) -> bool:
        d, ds, s = datasets_table, dataset_snippets_table, snippets_table
        stmt = (sa.select(s.c.id).join(ds, ds.c.snippet_id == s.c.id).join(d, d.c.id == ds.c.dataset_id)
                .where(d.c.name == name, s.c.label.is_not(None)).limit(1))
        return conn.execute(stmt).first() is not None

    def bind_dataset_task(self, name: str, task: str, *, conn: Connection | None = None) -> str:
        """Record that ``name`` is labelled for ``task`` (the dataset is created if new).

        A dataset with no task recorded takes ``task``, unless it already holds labels from
        before tasks (those answer ``injury``). Binding again to the same task is a no-op.

        Returns:
            ``task``.

        Raises:
            TaskMismatch: the dataset is labelled for another task; the message says what to do.
            ValueError: a bad dataset or task name.
        """
        check_dataset_name(name)
        _check_task_name(task)
        with self.transaction(conn) as c:
            exists = c.execute(sa.select(datasets_table.c.id).where(datasets_table.c.name == name)).first()
            if exists is None:
                c.execute(datasets_table.insert().values(name=name, created_at=now(), task=task))
                return task
            current = self.effective_task(name, conn=c)
            if current is not None and current != task:
                raise TaskMismatch(
                    f"dataset {name!r} is labelled for task {current!r}, not {task!r}: its labels answer "
                    f"another predicate; use task={current} with it, or put the {task} snippets in a new dataset")
            c.execute(datasets_table.update().where(datasets_table.c.name == name).values(task=task))
        return task
