"""Helpers shared by the CLI verbs: config options, prompt files, generator specs, clean errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from nines.config import ConfigError, load_config

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

OVERRIDES_HELP = "KEY=VALUE overrides of the config (dotted for nested keys), after the options."


def config_options(fn: F) -> F:
    """Add ``--config FILE`` and trailing ``KEY=VALUE`` overrides to a verb."""
    fn = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")(fn)
    fn = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                      help="YAML config file; its keys are the config fields.")(fn)
    return fn


def resolve(cls: type[T], config_path: str | None, overrides: Sequence[str], **fixed: Any) -> T:
    """Load a component config, with CLI-option values applied as overrides after the file."""
    extra = [f"{k}={v}" for k, v in fixed.items() if v is not None]
    try:
        return load_config(cls, config_path, list(overrides) + extra)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None


def user_errors(fn: F) -> F:
    """Turn the library's user-facing exceptions into a one-line CLI error, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except (ValueError, FileNotFoundError, KeyError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            raise click.ClickException(str(msg)) from None

    return wrapper  # type: ignore[return-value]


def read_prompts(path: str) -> list[Any]:
    """Prompts from a ``.txt`` file (one per line) or JSONL rows with a ``prompt`` field.

    A JSONL row's ``id`` (or ``prompt_id``) field becomes the :class:`~nines.generate.base.Prompt`'s
    id; rows without one, and text lines, stay plain strings (content-hash ids downstream).
    """
    from nines.data.io import iter_jsonl_rows
    from nines.generate.base import Prompt

    p = Path(path)
    if not p.is_file():
        raise click.BadParameter(f"{p} does not exist", param_hint="--prompts")
    if p.suffix == ".txt":
        return [line.strip() for line in p.read_text().splitlines() if line.strip()]
    prompts = []
    for i, row in iter_jsonl_rows(p):  # raises DataError naming file and line for bad JSON
        if not isinstance(row.get("prompt"), str):
            raise click.ClickException(f'{p}, line {i}, field "prompt": missing or not a string')
        pid = row.get("prompt_id", row.get("id"))
        prompts.append(row["prompt"] if pid is None else Prompt(str(pid), row["prompt"]))
    if not prompts:
        raise click.ClickException(f"{p} holds no prompts")
    return prompts


def make_generator(spec: str, world_seed: int = 0) -> tuple[Any, Any]:
    """A generator from a spec; returns ``(generator, world)`` where world is set for ``storyworld``."""
    if spec == "storyworld" or spec.startswith("storyworld:"):
        from nines.storyworld import StoryWorld

        world = StoryWorld(seed=world_seed)
        return world.generator(), world
    from nines.generate.registry import load_generator

    return load_generator(spec), None


def write_rows(rows: list[dict[str, Any]], path: str) -> None:
    """Write JSONL atomically (see :func:`nines.data.io.write_jsonl_rows`)."""
    from nines.data.io import write_jsonl_rows

    write_jsonl_rows(rows, path)
