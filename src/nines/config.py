"""Config dataclasses from YAML plus ``key=value`` overrides, and saving the resolved config.

Every component has one frozen-free dataclass config validated in ``__post_init__``. This module
turns a YAML file and command-line overrides into such a dataclass (nested dataclasses are
addressed with dotted keys: ``train.lr=3e-5``) and writes the resolved result next to a run.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that cannot be applied; the message says how to fix it."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (from YAML or a ``key=value`` string) to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        is_null = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_null and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except (ConfigError, ValueError, TypeError) as e:
                errors.append(str(e))
        raise ConfigError(f"{key}: cannot read {value!r} as {tp}: {'; '.join(errors)}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (list, Sequence, tuple) or tp in (list, tuple):
        if isinstance(value, str):
            # "a,b" and the YAML-looking "[a, b]" both mean a list of two.
            text = value.strip()
            text = text[1:-1] if text.startswith("[") and text.endswith("]") else text
            value = [v.strip() for v in text.split(",") if v.strip()]
        inner = args[0] if args else Any
        items = [_coerce(v, inner, key) for v in value]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
        if f != int(f):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(f)
    if tp is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, coercing types and rejecting unknown keys."""
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(prefix + u for u in unknown)} for {cls.__name__}; "
            f"valid keys: {', '.join(sorted(prefix + n for n in names))}"
        )
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{cls.__name__}: {e}") from None


def to_dict(obj: Any) -> dict[str, Any]:
    """The dataclass as plain YAML-serialisable data."""
    d = dataclasses.asdict(obj)

    def clean(v: Any) -> Any:
        if isinstance(v, tuple):
            return [clean(x) for x in v]
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return clean(d)  # type: ignore[no-any-return,unused-ignore]


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """Turn ``["train.lr=3e-5", "seed=1"]`` into a nested dict of strings."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value (example: train.epochs=2)")
        key, value = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {p}")
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], upd: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in upd.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def load_config(
    cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = (), base: T | None = None
) -> T:
    """Resolve a config: defaults (or ``base``), then the YAML file, then ``key=value`` overrides.

    Args:
        cls: the config dataclass.
        path: optional YAML file whose top-level keys are fields of ``cls``.
        overrides: ``key=value`` strings; nested fields use dots (``train.lr=3e-5``).
        base: start from this instance instead of ``cls()``'s defaults.

    Raises:
        ConfigError: naming the file or key at fault and how to fix it.
    """
    data: dict[str, Any] = to_dict(base) if base is not None else to_dict(cls())
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {p} is not valid YAML: {e}") from None
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"config file {p} must hold a mapping of keys to values")
        data = _merge(data, loaded)
    data = _merge(data, parse_overrides(overrides))
    try:
        return from_dict(cls, data)
    except ValueError as e:  # __post_init__ validation errors are ValueErrors
        where = f" (from {path})" if path else ""
        raise ConfigError(f"{e}{where}") from None


def save_config(obj: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML (next to a run's outputs)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(to_dict(obj), sort_keys=False))
    return p
