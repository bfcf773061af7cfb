"""The DuckDB store: schema and migrations, ingest of problem sets, views and read helpers."""

from store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
