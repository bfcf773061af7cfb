"""Reads of the store for the CLI (`distill sql`, `runs`, `problems`, `trainings`): through the service when a
`distill serve` holds the store (it answers while its jobs write), else on a guarded read-only connection."""

from __future__ import annotations

from pathlib import Path

from distill.service.client import ServiceClient, ServiceRefused, ServiceUnavailable
from distill.store import StoreError
from distill.store.queries import Table, read_only_sql


def read_sql(db: Path, sql: str) -> Table:
    client = ServiceClient.for_store(db)
    if client is None:
        return read_only_sql(db, sql)
    try:
        result = client.sql(sql)
    except ServiceRefused as exc:
        raise StoreError(str(exc)) from exc
    except ServiceUnavailable as exc:
        raise StoreError(str(exc)) from exc
    finally:
        client.close()
    if result["truncated"]:
        raise StoreError(f"more than {len(result['rows'])} rows: add a LIMIT or aggregate (the service returns at "
                         f"most {len(result['rows'])})")
    return Table(result["columns"], [tuple(row) for row in result["rows"]])
