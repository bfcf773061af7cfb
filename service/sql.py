"""Read-only SQL on the service's own connection, with the guard of `distill sql`: only SELECT (or EXPLAIN of
one) passes, the connection has no file, network or extension access (the service opens its store so), each
query runs in a transaction that is rolled back, is interrupted after `timeout_s` and returns at most `max_rows`.
DuckDB's MVCC lets these reads run while a job writes."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import duckdb
from distill.store import Store, StoreError
from distill.store.queries import plain
from distill.store.sql_guard import checked_statements, run_guarded

MAX_ROWS = 10_000
TIMEOUT_S = 30.0


class QueryTimeout(StoreError):
    pass


def guarded_query(store: Store, sql: str, max_rows: int = 1000, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """`{"columns", "rows", "truncated", "seconds"}` for the last statement of `sql`."""
    max_rows = max(1, min(max_rows, MAX_ROWS))
    cur = store.new_cursor()
    timer = threading.Timer(timeout_s, cur.interrupt)
    started = time.perf_counter()
    try:
        statements = checked_statements(cur, sql)
        cur.begin()
        timer.start()
        result = None
        for statement in statements:
            result = run_guarded(cur, statement)
        columns = [d[0] for d in result.description]
        rows = result.fetchmany(max_rows + 1)
    except StoreError as exc:
        if isinstance(exc.__cause__, duckdb.InterruptException):
            raise QueryTimeout(f"query stopped after {timeout_s:g} s") from exc
        raise
    finally:
        timer.cancel()
        with contextlib.suppress(duckdb.Error):  # no transaction was begun
            cur.rollback()
        cur.close()
    return {"columns": columns, "rows": [[plain(v) for v in row] for row in rows[:max_rows]],
            "truncated": len(rows) > max_rows, "seconds": round(time.perf_counter() - started, 4)}
