"""The row model base: a frozen dataclass per table, its fields the columns, its key and conflict policy declared
beside them. A field typed dict or list is a JSON column (stored as its JSON text)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import types
import typing
from typing import Any, ClassVar, Literal, TypeVar

Conflict = Literal["ignore", "replace", "error", "append"]
R = TypeVar("R", bound="Row")
SQL_TYPES = {str: "VARCHAR", bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE", dt.datetime: "TIMESTAMP"}


class Row:
    """A row of `TABLE`. On a conflict by `KEY`: `ignore` keeps the stored row (an LLM result is recorded once: the
    idempotency record), `replace` stores the newer one (a decision that may be redone), `error` raises (a key
    that must be new); `append` has no key (a generated id, or a log)."""

    __slots__ = ()
    TABLE: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]] = ()
    ON_CONFLICT: ClassVar[Conflict] = "append"

    @classmethod
    @functools.cache
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    @functools.cache
    def sql_types(cls) -> dict[str, str]:
        """Each column's DuckDB type as the model declares it ('JSON' for dict and list fields)."""
        hints = typing.get_type_hints(cls)
        return {c: sql_type(hints[c]) for c in cls.columns()}

    def values(self) -> list[Any]:
        """Parameters in column order; JSON columns serialised."""
        types_ = self.sql_types()
        return [_to_sql(getattr(self, c)) if types_[c] == "JSON" else getattr(self, c) for c in self.columns()]

    def key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in self.KEY)

    @classmethod
    def from_record(cls: type[R], record: dict[str, Any]) -> R:
        """The row as read back from the store (columns beyond the model's, such as created_at, are dropped)."""
        types_ = cls.sql_types()
        return cls(**{c: _from_sql(record[c]) if types_[c] == "JSON" else record[c] for c in cls.columns()})


def sql_type(hint: Any) -> str:
    """'VARCHAR', 'BIGINT', ... for a field's type (None stripped from an optional one)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    if (typing.get_origin(hint) or hint) in (dict, list):
        return "JSON"
    return SQL_TYPES[hint]


def _to_sql(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _from_sql(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


row = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
