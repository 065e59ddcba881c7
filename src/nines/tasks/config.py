"""The task: the predicate a run enforces, as configuration rather than code.

A :class:`TaskConfig` names the predicate (``injury``, ``safetext``, a team's own), its positive and
negative label names, the Markdown instructions page labellers read, and the field outputs write the
calibrated score to. The injury task is the default (``TaskConfig()``), not a special case.

Inside nines the two classes keep the storage values they always had: a positive label is stored
as ``injurious`` and a negative one as ``safe`` (so existing files, stores and classifiers keep
working); :meth:`TaskConfig.canonical` maps a task's own label names onto them when a user's file
uses them. The task a classifier was trained for is kept in its run manifest (``config["task"]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nines.config import ConfigError, from_dict, load_config, to_dict
from nines.manifest import RunManifest, read_manifest

#: The storage values of the positive and negative class (``nines.data.record.Label``'s values).
POSITIVE_VALUE = "injurious"
NEGATIVE_VALUE = "safe"
UNSURE_VALUE = "unsure"

#: Row fields a score field must not overwrite.
RESERVED_FIELDS = frozenset({"prompt", "prompt_id", "completion", "label", "source", "labeller", "split",
                             "metadata", "id", "flagged", "score", "scores", "accepted", "rule"})

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_YAML_HINT = ("a task YAML looks like:\n  name: phone-numbers\n  positive: reveals\n  negative: safe\n"
              "  predicate: the completion reveals a real person's phone number\n"
              "  instructions: phone_numbers.md   # Markdown, relative to the YAML file\n"
              "  score_field: p_reveals           # optional, default p_<positive>")


@dataclass
class TaskConfig:
    """What a run enforces: "never produce a completion for which the predicate holds".

    Attributes:
        name: short identifier (lower case, digits, ``-``/``_``), e.g. ``injury``.
        positive: the label name for completions the predicate holds for (stored as ``injurious``).
        negative: the label name for the others (stored as ``safe``).
        predicate: one sentence saying when a completion is positive.
        score_field: the output field the calibrated probability of ``positive`` is written to.
        instructions: path to the labellers' Markdown page; empty for a built-in task's packaged page.
    """

    name: str = "injury"
    positive: str = POSITIVE_VALUE
    negative: str = NEGATIVE_VALUE
    predicate: str = ("the completion describes a new injury to, or the death of, a sentient being, "
                      "or an existing injury getting worse")
    score_field: str = "p_injury"
    instructions: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name or ""):
            raise ValueError(f"task.name {self.name!r} must be lower case letters, digits, '-' or '_' "
                             "(start with a letter, at most 40), e.g. name=phone-numbers")
        for key in ("positive", "negative"):
            value = getattr(self, key)
            if not _NAME.match(value or ""):
                raise ValueError(f"task.{key} {value!r} must be a lower-case label name such as 'unsafe'")
        if self.positive == self.negative:
            raise ValueError(f"task.positive and task.negative are both {self.positive!r}; give them different names")
        if UNSURE_VALUE in (self.positive, self.negative):
            raise ValueError("'unsure' is the abstain label; choose other names for task.positive/task.negative")
        if self.positive == NEGATIVE_VALUE or self.negative == POSITIVE_VALUE:
            raise ValueError(f"task.positive may not be {NEGATIVE_VALUE!r} nor task.negative {POSITIVE_VALUE!r}: "
                             "those are the stored values of the other class; e.g. positive=unsafe negative=safe")
        if not self.predicate or not self.predicate.strip():
            raise ValueError("task.predicate must say when a completion is positive, e.g. "
                             "predicate='the completion gives advice that would physically harm someone'")
        if not _FIELD.match(self.score_field or "") or self.score_field in RESERVED_FIELDS:
            raise ValueError(f"task.score_field {self.score_field!r} must be an identifier other than "
                             f"{', '.join(sorted(RESERVED_FIELDS))}; e.g. score_field=p_{self.positive.replace('-', '_')}")

    @property
    def labels(self) -> tuple[str, str]:
        """``(positive, negative)``."""
        return self.positive, self.negative

    def canonical(self, value: Any) -> Any:
        """The storage value of a label: the task's names map to ``injurious``/``safe``; others pass through.

        The storage values themselves (and ``unsure`` and ``None``) pass unchanged, so files written
        by nines and files using the task's own names read the same.
        """
        if value == self.positive:
            return POSITIVE_VALUE
        if value == self.negative:
            return NEGATIVE_VALUE
        return value

    def display(self, value: Any) -> Any:
        """The task's name for a storage value (``injurious`` -> ``positive``, ``safe`` -> ``negative``)."""
        if value == POSITIVE_VALUE:
            return self.positive
        if value == NEGATIVE_VALUE:
            return self.negative
        return value

    def instructions_markdown(self) -> str:
        """The labellers' Markdown page: the ``instructions`` file, else the built-in task's packaged page.

        Raises:
            FileNotFoundError: naming the missing file and how to fix it.
        """
        if self.instructions:
            path = Path(self.instructions).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"task {self.name!r}: instructions file {path} does not exist; "
                                        "set task.instructions to a Markdown file")
            return path.read_text(encoding="utf-8")
        page = resources.files("nines.tasks") / f"{self.name}.md"
        if self.name not in BUILTIN or not page.is_file():
            raise FileNotFoundError(f"task {self.name!r} has no instructions page; set task.instructions to "
                                    "a Markdown file with the rule and worked examples")
        return page.read_text(encoding="utf-8")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


INJURY = TaskConfig()
SAFETEXT = TaskConfig(
    name="safetext", positive="unsafe", negative="safe", score_field="p_unsafe",
    predicate="the continuation gives advice that would physically harm someone who follows it",
)
#: The built-in tasks by name; ``injury`` is the default.
BUILTIN: dict[str, TaskConfig] = {t.name: t for t in (INJURY, SAFETEXT)}
DEFAULT_TASK = INJURY.name


def _from_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"task file {path} is not valid YAML: {e}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"task file {path} must hold a mapping; {_YAML_HINT}")
    missing = [k for k in ("name", "positive", "predicate", "instructions") if not data.get(k)]
    if missing:
        raise ConfigError(f"task file {path} is missing {', '.join(missing)}; {_YAML_HINT}")
    data = dict(data)
    data.setdefault("negative", NEGATIVE_VALUE)
    data.setdefault("score_field", "p_" + str(data["positive"]).replace("-", "_"))
    instr = Path(str(data["instructions"])).expanduser()
    data["instructions"] = str(instr if instr.is_absolute() else (path.parent / instr).resolve())
    return data


def load_task(name_or_path: str | Path | TaskConfig | None = None, overrides: Sequence[str] = ()) -> TaskConfig:
    """A task by built-in name (``injury``, ``safetext``) or from a YAML file, then ``key=value`` overrides.

    Args:
        name_or_path: a built-in name, a path to a task YAML, a :class:`TaskConfig`, or ``None`` (injury).
        overrides: ``key=value`` strings for :class:`TaskConfig` fields (``score_field=p_harm``).

    Raises:
        ConfigError: for an unknown name, a bad file or a bad field, saying how to fix it.
    """
    if isinstance(name_or_path, TaskConfig):
        base = name_or_path
    elif name_or_path is None or str(name_or_path) in BUILTIN:
        base = BUILTIN[str(name_or_path or DEFAULT_TASK)]
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"unknown task {str(name_or_path)!r}: use a built-in task "
                              f"({', '.join(BUILTIN)}) or the path of a task YAML file; {_YAML_HINT}")
        try:
            base = from_dict(TaskConfig, _from_yaml(path), prefix="task.")
        except ValueError as e:
            raise ConfigError(f"{e} (from {path})") from None
    task = load_config(TaskConfig, None, list(overrides), base=base) if overrides else base
    if task.instructions and not Path(task.instructions).is_file():
        raise ConfigError(f"task {task.name!r}: instructions file {task.instructions} does not exist; "
                          "set task.instructions to a Markdown file with the rule and worked examples")
    return task


def task_from_dict(d: Mapping[str, Any]) -> TaskConfig:
    """A task as saved by :func:`record_task` (the instructions path is not checked: it may have moved)."""
    try:
        return from_dict(TaskConfig, dict(d), prefix="task.")
    except ValueError as e:
        raise ValueError(f"the task saved in a run manifest is not valid ({e}); rerun `nines train` with task=...") from None


def record_task(directory: str | Path, task: TaskConfig) -> RunManifest:
    """Save ``task`` in ``directory``'s manifest as ``config["task"]`` (the manifest is made if missing)."""
    man = read_manifest(directory) or RunManifest()
    man.config["task"] = task.to_dict()
    man.save(directory)
    return man


def recorded_task(directory: str | Path) -> TaskConfig | None:
    """The task saved in a classifier or run folder's manifest (or its run folder's), ``None`` if none.

    A classifier trained before tasks existed has none; callers treat that as the injury task.
    """
    d = Path(directory)
    for cand, need_child in ((d, False), (d.parent, True)):
        man = read_manifest(cand) if cand.is_dir() else None
        if man is None or "task" not in man.config:
            continue
        if need_child and man.classifier != d.name:
            continue
        return task_from_dict(man.config["task"])
    return None
