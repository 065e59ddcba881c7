"""Tasks: the predicate as configuration (name, label names, instructions page, score field).

``load_task("injury")`` (the default), ``load_task("safetext")`` or ``load_task("my_task.yaml")``;
the CLI reads it from ``task=NAME|FILE`` and keeps it in the run manifest.
"""

from nines.tasks.config import (
    BUILTIN,
    DEFAULT_TASK,
    INJURY,
    SAFETEXT,
    TaskConfig,
    load_task,
    record_task,
    recorded_task,
    task_from_dict,
)

__all__ = ["BUILTIN", "DEFAULT_TASK", "INJURY", "SAFETEXT", "TaskConfig", "load_task", "record_task",
           "recorded_task", "task_from_dict"]
