"""Read-only questions to the store: problem counts and user SQL."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.store.db import Store
from distill.store.sql_guard import WriteRefused, checked_statements, open_guarded_store, run_guarded

__all__ = ["PROBLEM_COUNTS_SQL", "REJECT_COUNTS_SQL", "Table", "WriteRefused", "plain", "problem_counts",
           "read_only_sql", "reject_counts"]


def plain(value: Any) -> Any:
    """A stored value as JSON or CSV can carry it: dates and times as text, decimals as floats, UUIDs as text,
    bytes as hex; lists and structs element by element."""
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta, uuid.UUID)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


# Counts by source, year and section, with per-source totals.
PROBLEM_COUNTS_SQL = """
    SELECT source, year, section, problems, usable, duplicates, placeholders
    FROM problem_counts
    UNION ALL
    SELECT source, NULL, '(all)', sum(problems), sum(usable), sum(duplicates), sum(placeholders)
    FROM problem_counts GROUP BY source
    ORDER BY source, year NULLS LAST, section
"""
REJECT_COUNTS_SQL = "SELECT source, path, count(*) AS rejects FROM ingest_rejects GROUP BY ALL ORDER BY ALL"


def problem_counts(store: Store) -> Table:
    result = store.cursor().execute(PROBLEM_COUNTS_SQL)
    return Table([d[0] for d in result.description], result.fetchall())


def reject_counts(store: Store) -> Table:
    result = store.cursor().execute(REJECT_COUNTS_SQL)
    return Table([d[0] for d in result.description], result.fetchall())


def read_only_sql(db_path: str | Path, sql: str) -> Table:
    """Run SELECT/EXPLAIN-of-SELECT statements on a guarded read-only connection (see `store.sql_guard`)."""
    store = open_guarded_store(db_path)
    try:
        cur = store.cursor()
        result = None
        for statement in checked_statements(cur, sql):
            result = run_guarded(cur, statement)
        return Table([d[0] for d in result.description], result.fetchall())
    finally:
        store.close()
