"""``task=NAME|FILE`` on the CLI: which predicate a verb works for, read from its ``KEY=VALUE`` overrides.

``task=safetext`` picks a built-in task, ``task=my_task.yaml`` a team's own, and ``task.KEY=VALUE``
changes one field (``task.score_field=p_harm``). Verbs that take a classifier default to the task
recorded in its manifest at ``nines train``; without one (classifiers from before tasks) the task
is ``injury``, so every existing run behaves as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from nines.config import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def split_task(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(task overrides, the rest)``: ``task=...`` and ``task.KEY=...`` go to the first list."""
    mine = [o for o in overrides if o.split("=", 1)[0].strip() == "task" or o.startswith("task.")]
    return mine, [o for o in overrides if o not in mine]


def task_from(overrides: Sequence[str], clf_dir: str | Path | None = None) -> tuple[Any, list[str]]:
    """The task a verb runs for, and the overrides left for its own config.

    Args:
        overrides: the verb's ``KEY=VALUE`` arguments.
        clf_dir: the classifier the verb uses; its recorded task is the default, and a ``task=``
            naming another task is an error (the classifier was not trained for it).

    Raises:
        click.UsageError: for a bad task or one that contradicts the classifier's.
    """
    from nines.tasks import load_task, recorded_task

    mine, rest = split_task(overrides)
    name = next((o.split("=", 1)[1].strip() for o in mine if o.split("=", 1)[0].strip() == "task"), None)
    fields = [o[len("task."):] for o in mine if o.startswith("task.")]
    try:
        saved = recorded_task(clf_dir) if clf_dir is not None else None
        task = load_task(name if name is not None else saved, fields)
    except (ConfigError, ValueError) as e:
        raise click.UsageError(str(e)) from None
    if saved is not None and name is not None and task.name != saved.name:
        raise click.UsageError(f"the classifier in {clf_dir} was trained for task {saved.name!r}, not "
                               f"{task.name!r}; drop task= or train a classifier with task={task.name}")
    return task, rest


def task_argument(fn: F) -> F:
    """Trailing ``[task=NAME|FILE] [task.KEY=VALUE]...`` for a verb that has no config of its own."""
    return click.argument("overrides", nargs=-1, metavar="[task=NAME|FILE]...")(fn)


def only_task(overrides: Sequence[str], clf_dir: str | Path | None = None) -> Any:
    """:func:`task_from` for a verb whose only overrides are the task's."""
    task, rest = task_from(overrides, clf_dir)
    if rest:
        raise click.UsageError(f"this verb takes only task=NAME|FILE and task.KEY=VALUE, got {rest[0]!r}")
    return task


def read_labelled(path: str, task: Any) -> list[Any]:
    """Labelled snippets from JSONL, reading the task's label names as well as the stored ones.

    A row may say ``"label": "unsafe"`` for ``task=safetext`` (the task's name) or ``"injurious"``
    (the stored value of the positive class, what nines writes); both mean the same.

    Raises:
        click.ClickException: for a label that is neither, naming the file and line.
    """
    from nines.data.io import iter_jsonl_rows, snippet_from_row

    allowed = {task.positive, task.negative, "injurious", "safe", "unsure", None}
    out = []
    for line, row in iter_jsonl_rows(path):
        if row.get("label") not in allowed:
            raise click.ClickException(
                f'{path}, line {line}, field "label": {row.get("label")!r} is not a label of task {task.name!r}; '
                f"use {task.positive!r}, {task.negative!r}, 'unsure' or null")
        out.append(snippet_from_row({**row, "label": task.canonical(row.get("label"))}, path, line))
    return out


def own_prompts(generator: Any) -> list[Any] | None:
    """The prompts a data-set generator brings (SafeText's split), or ``None`` for one that has none."""
    fn = getattr(generator, "dataset_prompts", None)
    return list(fn()) if callable(fn) else None


def save_task(directory: str | Path, task: Any) -> None:
    """Record ``task`` in ``directory``'s manifest (see :func:`nines.tasks.record_task`)."""
    from nines.tasks import record_task

    record_task(directory, task)
