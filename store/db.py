"""The DuckDB store: one connection per process, a cursor per thread, schema by numbered migrations."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class StoreError(RuntimeError):
    """A store that cannot be opened or used as asked; the message says why."""


class StoreLocked(StoreError):
    """Another process holds the store (DuckDB allows one writer, and no reader beside it)."""

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The migrations shipped in `store/migrations`, in version order."""
    found = []
    for entry in resources.files("distill.store.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"two migrations share a number: {versions}")
    return found


class Store:
    """One DuckDB file. Writers migrate it on open; readers (`read_only=True`) never write."""

    def __init__(self, path: str | Path, *, read_only: bool = False, config: dict[str, Any] | None = None):
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}: ingest problems first (`distill ingest ...`)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            raise StoreLocked(
                f"cannot open {self.path}: {exc}. DuckDB allows one writer process: "
                "is another distill command or a `distill serve` using this store?", self.path
            ) from exc
        self._local = threading.local()
        if not read_only:
            self._migrate()

    # -- connections ---------------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections must not be shared across threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._con.cursor()
        return cur

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own, for the caller to close (e.g. one the caller may interrupt)."""
        return self._con.cursor()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on this thread's cursor: committed on success, rolled back on any error."""
        cur = self.cursor()
        cur.begin()
        try:
            yield cur
        except BaseException:
            cur.rollback()
            raise
        cur.commit()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -------------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts."""
        result = self.cursor().execute(sql, params or [])
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.cursor().execute(sql, params or []).fetchone()
        return None if row is None else row[0]

    # -- schema --------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The newest migration applied."""
        exists = self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations")) if exists else 0

    def _migrate(self) -> None:
        migrations = load_migrations()
        cur = self.cursor()
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,"
            " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        applied = {v: (n, c) for v, n, c in cur.execute(
            "SELECT version, name, checksum FROM schema_migrations").fetchall()}
        unknown = sorted(set(applied) - {m.version for m in migrations})
        if unknown:
            raise StoreError(
                f"{self.path} has schema migration(s) {unknown} that this distill does not know "
                "(written by a newer version?): upgrade distill"
            )
        for migration in migrations:
            if migration.version in applied:
                name, checksum = applied[migration.version]
                if checksum != migration.checksum:
                    raise StoreError(
                        f"migration {migration.version:04d}_{name} changed after it was applied to "
                        f"{self.path}; migrations are append-only: add a new one instead"
                    )
                continue
            with self.transaction() as tx:
                tx.execute(migration.sql)
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    [migration.version, migration.name, migration.checksum],
                )
