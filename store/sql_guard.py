"""The guard for user SQL (`distill sql`, the service's SQL endpoint): read the store, nothing else.

Two layers. The connection is opened read-only with external access off (no file, glob, COPY TO or
network access), extension autoinstall/autoload off (no download attempt) and the configuration locked
(no `SET` can undo it). Before anything runs, every statement must be a SELECT, or an EXPLAIN
(ANALYZE or not) of a SELECT: EXPLAIN ANALYZE executes its statement.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
from distill.store.db import Store, StoreError

READ_ONLY_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_EXPLAIN = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+|\([^)]*\)\s*)?(?P<inner>.*)$", re.IGNORECASE | re.DOTALL)


class WriteRefused(StoreError):
    """User SQL was given a statement that could change something or reach outside the store."""


def open_guarded_store(db_path: str | Path) -> Store:
    """The store, read-only, on a connection that cannot touch files, the network or its own settings."""
    return Store(db_path, read_only=True, config=READ_ONLY_CONFIG)


def _explained(cur: duckdb.DuckDBPyConnection, query: str) -> duckdb.Statement | None:
    """The statement an EXPLAIN wraps, or None when it cannot be read."""
    match = _EXPLAIN.match(_COMMENTS.sub(" ", query))
    if not match:
        return None
    try:
        inner = cur.extract_statements(match.group("inner"))
    except duckdb.Error:
        return None
    return inner[0] if len(inner) == 1 else None


def checked_statements(cur: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    """The statements of `sql`, after refusing any that is not a SELECT or an EXPLAIN of a SELECT."""
    try:
        statements = cur.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"cannot parse the SQL: {exc}") from exc
    if not statements:
        raise StoreError("no SQL statement given")
    for statement in statements:
        text = statement.query.strip()[:60]
        if statement.type is duckdb.StatementType.EXPLAIN:
            inner = _explained(cur, statement.query)
            if inner is None or inner.type is not duckdb.StatementType.SELECT:
                kind = inner.type.name if inner is not None else "unreadable"
                raise WriteRefused(
                    f"refused: EXPLAIN runs here only on a SELECT (EXPLAIN ANALYZE executes its statement); "
                    f"this explains a {kind} statement ({text!r})."
                )
        elif statement.type is not duckdb.StatementType.SELECT:
            raise WriteRefused(
                f"refused: `distill sql` is read-only and runs only SELECT queries; this is a "
                f"{statement.type.name} statement ({text!r}). The store changes only through distill commands."
            )
    return statements


def run_guarded(cur: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> duckdb.DuckDBPyConnection:
    """Execute one checked statement; a refused file or network access is a clear StoreError."""
    try:
        return cur.execute(statement.query)
    except duckdb.PermissionException as exc:
        raise WriteRefused(
            "refused: `distill sql` reads only the store; file, glob, COPY and network access are disabled "
            f"({str(exc).splitlines()[0]})"
        ) from exc
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {exc}") from exc
