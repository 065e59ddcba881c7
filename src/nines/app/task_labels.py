"""The app's task: label names in, label names out, and which task a dataset is labelled for.

Labels are stored as ``injurious``/``safe``/``unsure`` whatever the task calls its classes (see
:mod:`nines.tasks.config`), so stores and classifiers work across tasks. The API accepts both the
stored values and the served task's own names (``unsafe`` for ``task=safetext``); the pages show
the task's names; the label export writes them when asked (``?names=task``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy.engine import Connection

from nines.app.errors import Conflict
from nines.data.store import Store, TaskMismatch
from nines.tasks import TaskConfig
from nines.tasks.config import NEGATIVE_VALUE, POSITIVE_VALUE, UNSURE_VALUE

__all__ = ["LABEL_NAMES", "bind_dataset", "display_rows", "stored_label"]

STORED = (POSITIVE_VALUE, NEGATIVE_VALUE, UNSURE_VALUE)
#: ``names=`` of the label export: ``stored`` (the default, what nines has always written) or ``task``.
LABEL_NAMES = ("stored", "task")


def stored_label(task: TaskConfig, value: str, field: str = "label") -> str:
    """The storage value of a posted label: the task's names and the stored values are both accepted.

    Raises:
        RequestValidationError: anything else (answered 422 like any invalid body).
    """
    stored = task.canonical(value)
    if stored in STORED:
        return str(stored)
    accepted = [task.positive, task.negative, UNSURE_VALUE]
    accepted += [v for v in STORED if v not in accepted]
    raise RequestValidationError([{
        "loc": ("body", field), "type": "value_error",
        "msg": f"{value!r} is not a label of task {task.name!r}; use one of {', '.join(map(repr, accepted))}"}])


def display_rows(rows: Iterable[dict[str, Any]], task: TaskConfig,
                 keys: tuple[str, ...] = ("label", "current_label")) -> Iterator[dict[str, Any]]:
    """Export rows with their labels under the task's names (``injurious`` -> ``unsafe`` for safetext)."""
    for row in rows:
        yield {**row, **{k: task.display(row[k]) for k in keys if k in row}}


def bind_dataset(store: Store, dataset: str, task: TaskConfig, conn: Connection) -> None:
    """Record that ``dataset`` is labelled for ``task``, or refuse (409) if it is labelled for another.

    Raises:
        Conflict: the dataset's labels answer another task's predicate.
    """
    try:
        store.bind_dataset_task(dataset, task.name, conn=conn)
    except TaskMismatch as e:
        raise Conflict(f"{e} (this app serves task={task.name})") from None
