"""Read-only questions to the store: problem counts and user SQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from store.db import Store, StoreError

# Statement types `distill sql` runs; everything else (INSERT, COPY, ATTACH, SET, PRAGMA...) is refused.
READ_ONLY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


class WriteRefused(StoreError):
    """`distill sql` was given a statement that could change something."""


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def problem_counts(store: Store) -> Table:
    """Counts by source, year and section, with per-source totals."""
    result = store.cursor().execute(
        """
        SELECT source, year, section, problems, usable, duplicates, placeholders
        FROM problem_counts
        UNION ALL
        SELECT source, NULL, '(all)', sum(problems), sum(usable), sum(duplicates), sum(placeholders)
        FROM problem_counts GROUP BY source
        ORDER BY source, year NULLS LAST, section
        """
    )
    return Table([d[0] for d in result.description], result.fetchall())


def reject_counts(store: Store) -> Table:
    result = store.cursor().execute(
        "SELECT source, path, count(*) AS rejects FROM ingest_rejects GROUP BY ALL ORDER BY ALL"
    )
    return Table([d[0] for d in result.description], result.fetchall())


def read_only_sql(db_path: str | Path, sql: str) -> Table:
    """Run SELECT/EXPLAIN statements on a read-only connection; anything else is refused before it runs."""
    store = Store(db_path, read_only=True)
    try:
        cur = store.cursor()
        try:
            statements = cur.extract_statements(sql)
        except duckdb.Error as exc:
            raise StoreError(f"cannot parse the SQL: {exc}") from exc
        if not statements:
            raise StoreError("no SQL statement given")
        for statement in statements:
            if statement.type not in READ_ONLY_STATEMENTS:
                kind = statement.type.name
                raise WriteRefused(
                    f"refused: `distill sql` is read-only and runs only SELECT queries; this is a {kind} "
                    f"statement ({statement.query.strip()[:60]!r}). The store changes only through distill commands."
                )
        result = None
        for statement in statements:
            try:
                result = cur.execute(statement.query)
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {exc}") from exc
        return Table([d[0] for d in result.description], result.fetchall())
    finally:
        store.close()
