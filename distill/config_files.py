"""One config path for every stage: a TOML table validated by the stage's pydantic model, CLI flags merged over it
and validated again; every error names where the value came from (the file, or the flags) and the key.

The model is the only place a default lives: a flag left unset is None and overrides nothing."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
FLAGS = "command-line flags"


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file (or the flags) and the key."""


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a folder, not a config file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with the non-None `overrides` on top; nested tables merge key by key (`{"pacing": {"rpm": 60}}`
    keeps the other pacing keys), and a nested table of only None values changes nothing."""
    values = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            inner = merged(values[key] if isinstance(values.get(key), Mapping) else {}, value)
            if inner or key in values:
                values[key] = inner
        elif value is not None:
            values[key] = value
    return values


def key_errors(exc: ValidationError, prefix: str = "") -> str:
    """`key.sub: message; other: message`, keys prefixed with the table they sit in."""
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        key = f"{prefix}.{key}" if prefix and key else prefix or key or "(top)"
        parts.append(f"{key}: {error['msg']}")
    return "; ".join(parts)


def validated(model: type[M], values: Mapping[str, Any], where: str | Path, table: str = "") -> M:
    """`model(**values)`, or a ConfigError `WHERE: table.key: message` (no traceback for the user)."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(f"{where}: {key_errors(exc, table)}") from exc


def with_flags(config: M, flags: Mapping[str, Any]) -> M:
    """`config` with the flags that were given (not None) on top, validated again; an error names the flags."""
    if not merged({}, flags):
        return config
    return validated(type(config), merged(config.model_dump(exclude_unset=True), flags), FLAGS)


def table_of(document: dict[str, Any], table: str) -> tuple[dict[str, Any], str]:
    """A stage's table in a file: its `[table]` when the file has one, else the whole file (a file holding just
    the table). Returns the values and the key prefix for error messages."""
    inner = document.get(table)
    if isinstance(inner, dict):
        return inner, table
    return document, ""
