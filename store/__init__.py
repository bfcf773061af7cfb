"""The DuckDB store: schema and migrations, ingest of problem sets, views and read helpers."""

from distill.store.db import Store, StoreError, StoreLocked

__all__ = ["Store", "StoreError", "StoreLocked"]
