"""The store's writer for asyncio code: one background thread owns a cursor, and batches whatever is queued.
`await writer.insert(*rows)` returns once its rows are committed (with whatever else was queued, in one
transaction); `await writer.get(Model, key)` reads a row by key on the same thread, so it sees every write
before it. Conflict policy is the row model's (store.rows), applied here: nodes never choose it. Rows of `ignore`
models never change once stored (the idempotency records), so the writer keeps the newest it wrote or read, and
`get` answers those from memory without a round trip. `put(*rows)` queues rows without waiting (they are
readable at once; `flush` waits for them), and `index(model, run)` lets `get` answer a key the run never stored
without a read. When callers are many (a batch held more than one item),
the next batch waits up to LINGER for more: fewer, larger statements; a lone caller never waits.

Synchronous code writes the same rows with `insert(cur, *rows)` (inside the caller's transaction, if any; one
column-wise statement per table) and `insert_returning(cur, row, column)` for a generated id."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb
from distill.store.db import Store
from distill.store.rows import Row

R = TypeVar("R", bound=Row)
T = TypeVar("T")
CLAUSES = {"ignore": "OR IGNORE", "replace": "OR REPLACE", "error": "", "append": ""}
UNNEST_FROM = 4  # rows from which one column-wise INSERT costs less than a VALUES list (which grows ~0.1 ms a row)
LINGER = 0.002  # seconds a busy writer (its last batch had company) waits for more items before the next batch
KNOWN = 2048  # rows of `ignore` models the writer remembers, oldest forgotten first (~2 per problem running)


@dataclass
class _Write:
    rows: tuple[Row, ...]
    done: asyncio.Future | None  # None: put, nobody waits (an error is kept for the next flush)
    loop: asyncio.AbstractEventLoop | None


@dataclass
class _After:
    function: Callable[[], Any] | None  # run on the writer's thread once the rows queued before are committed
    done: asyncio.Future
    loop: asyncio.AbstractEventLoop


@dataclass
class _Read:
    model: type[Row]
    key: Any
    done: asyncio.Future
    loop: asyncio.AbstractEventLoop


Settled = tuple[_Write | _Read | _After, Any, BaseException | None]  # an item, its result, its error


class AsyncWriter:
    def __init__(self, store: Store, linger: float = LINGER):
        self.store, self.linger = store, linger
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.known: dict[tuple[type[Row], Any], Row] = {}  # written by both threads (dict ops are atomic)
        self.keys: dict[type[Row], set[Any]] = {}  # per indexed model: every key that can be stored (see index)
        self.failure: BaseException | None = None  # the first failed put: every later flush raises it
        self.thread = threading.Thread(target=self._run, name="distill-store-writer", daemon=True)
        self.thread.start()

    async def insert(self, *rows: Row) -> None:
        """Store `rows` together in one transaction (with whatever else is queued); raise its error."""
        if not rows:
            return
        loop = asyncio.get_running_loop()
        done = _future(loop)
        self._index_keys(rows)
        self.queue.put(_Write(rows, done, loop))
        await asyncio.shield(done)  # a cancelled caller does not cancel a write that is under way

    def put(self, *rows: Row) -> None:
        """Queue `rows` to be stored together in one transaction, without waiting: `get` sees them at once, and
        `flush` returns once they are committed (graph checkpoints are committed after them: `after_rows`). A
        failure is raised by every later `flush` or `after_rows`, and by `close`."""
        if rows:
            self._index_keys(rows)
            self._remember(rows)
            self.queue.put(_Write(rows, None, None))

    async def flush(self) -> None:
        """Wait until everything queued before has been committed; raise the first failure of a `put`."""
        await self.after_rows(None)

    async def after_rows(self, function: Callable[[], T] | None) -> T | None:
        """Run `function` on the writer's thread once every row queued before it is committed (in one round trip:
        graph checkpoints are written so, after the rows of the steps they record); return its result. Raises the
        first failure of a `put` (without running it), or its own error."""
        loop = asyncio.get_running_loop()
        done = _future(loop)
        self.queue.put(_After(function, done, loop))
        return await asyncio.shield(done)

    def index(self, model: type[Row], run_name: str) -> None:
        """Load the keys of `model` stored for `run_name`; from here on `get` answers None for any other key not
        written since without a read. Only for a model whose every key read is the run's own (its call keys hash
        the run's name), while this writer is the store's only one (DuckDB: one writer process)."""
        (column,) = model.KEY
        rows = self.store.query(f"SELECT {column} FROM {model.TABLE} WHERE run_name = ?", [run_name])
        self.keys[model] = {row[column] for row in rows}

    async def get(self, model: type[R], key: Any) -> R | None:
        """The stored row of `model` whose (single-column) key is `key`, or None."""
        if len(model.KEY) != 1:
            raise ValueError(f"{model.__name__} is not keyed by one column: read it with a query")
        row = self.known.get((model, key))
        if row is not None:  # committed or queued, and an `ignore` row never changes
            return row
        if model in self.keys and key not in self.keys[model]:
            return None
        loop = asyncio.get_running_loop()
        done = _future(loop)
        self.queue.put(_Read(model, key, done, loop))
        return await done

    async def close(self) -> None:
        """Commit what is queued and stop; raise the first failure of a `put` (none goes unreported)."""
        self.queue.put(None)
        await asyncio.to_thread(self.thread.join)
        if self.failure is not None:
            raise self.failure

    def _run(self) -> None:
        cur = self.store.cursor()  # this thread's own connection
        busy, stop = False, False
        while not stop:
            batch, stop = self._take(self.linger if busy else 0.0)
            writes = [i for i in batch if isinstance(i, _Write)]
            settled = self._write(cur, writes) if writes else []
            reads = [i for i in batch if isinstance(i, _Read)]
            settled += self._read(cur, reads) if reads else []
            settled += [_run_after(i, self.failure) for i in batch if isinstance(i, _After)]  # after the writes
            busy = len(batch) > 1 or not self.queue.empty()  # callers are many (one alone waits on each reply)
            for item, result, error in settled:
                _settle(item, result, error)

    def _take(self, linger: float) -> tuple[list[_Write | _Read | _After], bool]:
        """The next batch (waiting for its first item): whatever is queued, and what else comes within `linger`
        seconds; and whether the writer is to stop after it."""
        batch: list[_Write | _Read | _After] = []
        item = self.queue.get()
        deadline = time.monotonic() + linger
        while item is not None:
            batch.append(item)
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return batch, False
                try:
                    item = self.queue.get(timeout=wait)
                except queue.Empty:
                    return batch, False
        return batch, True

    def _write(self, cur: duckdb.DuckDBPyConnection, writes: list[_Write]) -> list[Settled]:
        rows = [r for w in writes for r in w.rows]
        try:
            stored = write_rows(cur, rows)
            if not stored:  # a key conflict: a put row may have lost to the stored one, which a read will find
                self._forget(r for w in writes if w.done is None for r in w.rows)
            self._remember(stored)
            outcomes: list[BaseException | None] = [None] * len(writes)
        except Exception:  # one bad item must not fail the others: redo them one by one
            outcomes = [self._alone(cur, w) for w in writes]
        for write, error in zip(writes, outcomes, strict=True):
            if write.done is None and error is not None and self.failure is None:
                self.failure = error
        return [(write, None, error) for write, error in zip(writes, outcomes, strict=True) if write.done]

    def _alone(self, cur: duckdb.DuckDBPyConnection, write: _Write) -> BaseException | None:
        try:
            stored = write_rows(cur, write.rows)
        except Exception as exc:
            if write.done is None:
                self._forget(write.rows)  # not stored: a read must not find them
            return exc
        if not stored and write.done is None:
            self._forget(write.rows)
        self._remember(stored)
        return None

    def _index_keys(self, rows: Iterable[Row]) -> None:
        for row in rows:
            if (keys := self.keys.get(type(row))) is not None:
                keys.add(getattr(row, type(row).KEY[0]))

    def _remember(self, rows: Iterable[Row], stored: bool = False) -> None:
        """Keep rows of `ignore` models with a one-column key (committed, or put) as a read gives them back (a
        written row's JSON columns parsed from the text stored; `stored`: rows that were read)."""
        for row in rows:
            model = type(row)
            if model.ON_CONFLICT == "ignore" and len(model.KEY) == 1:
                if not stored and "JSON" in model.sql_types().values():
                    row = model.from_record(dict(zip(model.columns(), row.values(), strict=True)))
                self.known[(model, getattr(row, model.KEY[0]))] = row
        while len(self.known) > KNOWN:
            del self.known[next(iter(self.known))]

    def _forget(self, rows: Iterable[Row]) -> None:
        for row in rows:
            if len(type(row).KEY) == 1:
                self.known.pop((type(row), getattr(row, type(row).KEY[0])), None)

    def _read(self, cur: duckdb.DuckDBPyConnection, reads: list[_Read]) -> list[Settled]:
        by_model: dict[type[Row], list[_Read]] = {}
        for read in reads:
            by_model.setdefault(read.model, []).append(read)
        settled: list[Settled] = []
        for model, group in by_model.items():
            found = {r.key: row for r in group if (row := self.known.get((model, r.key))) is not None}
            try:
                if missing := {r.key for r in group} - found.keys():
                    stored = select_by_key(cur, model, missing)
                    self._remember(stored.values(), stored=True)
                    found.update(stored)
            except Exception as exc:
                settled += [(read, None, exc) for read in group]
                continue
            settled += [(read, found.get(read.key), None) for read in group]
        return settled


def write_rows(cur: duckdb.DuckDBPyConnection, rows: Sequence[Row]) -> list[Row]:
    """Insert `rows` in one transaction, one statement per table. Plain INSERTs first (DuckDB's conflict clauses
    cost ~3x, and conflicts are rare: a node replayed after a crash); on a key conflict the batch is redone with
    each model's policy. Returns the rows now stored as given: all of them after plain INSERTs, none after a
    conflict (an `ignore` row may have lost to the stored one)."""
    groups = group_rows(rows)
    try:
        _transaction(cur, groups, resolve=False)
    except duckdb.ConstraintException:
        _transaction(cur, groups, resolve=True)
        return []
    return [row for group in groups.values() for row in group]


def group_rows(rows: Iterable[Row]) -> dict[type[Row], list[Row]]:
    """Rows by model, one per key: the first for `ignore`, the last for `replace` (a statement may not hit the
    same key twice); every row for `error` (a repeated key raises) and `append`."""
    groups: dict[type[Row], dict[Any, Row]] = {}
    for n, row in enumerate(rows):
        model = type(row)
        keyed = groups.setdefault(model, {})
        key = row.key() if model.ON_CONFLICT in ("ignore", "replace") else n
        if model.ON_CONFLICT == "replace" or key not in keyed:
            keyed[key] = row
    return {model: list(keyed.values()) for model, keyed in groups.items()}


def insert_sql(model: type[Row], count: int, resolve: bool) -> str:
    columns = model.columns()
    marks = f"({', '.join('?' for _ in columns)})"
    clause = CLAUSES[model.ON_CONFLICT] if resolve else ""
    return f"INSERT {clause} INTO {model.TABLE} ({', '.join(columns)}) VALUES {', '.join([marks] * count)}"


def insert(cur: duckdb.DuckDBPyConnection, *rows: Row) -> int:
    """Insert `rows` on `cur` (in the caller's transaction, if one is open) with each model's conflict policy: one
    column-wise statement per table (`INSERT ... SELECT unnest(?)`), fast for thousands of rows. Returns the
    number of rows given."""
    for model, group in group_rows(rows).items():
        cur.execute(*unnest_insert(model, group))
    return len(rows)


def insert_returning(cur: duckdb.DuckDBPyConnection, row: Row, column: str) -> Any:
    """Insert one row and return its `column` as stored (an id a sequence generated)."""
    sql, params = unnest_insert(type(row), [row])
    return cur.execute(f"{sql} RETURNING {column}", params).fetchone()[0]


def unnest_insert(model: type[Row], rows: Sequence[Row], resolve: bool = True) -> tuple[str, list[list[Any]]]:
    """`INSERT [OR ...] INTO table (...) SELECT unnest(?::type[]), ...` with one list of values per column (the
    model's conflict clause unless not `resolve`)."""
    columns = model.columns()
    types = {c: "VARCHAR" if t == "JSON" else t for c, t in model.sql_types().items()}
    selects = ", ".join(f"unnest(?::{types[c]}[])" for c in columns)
    values = [list(column) for column in zip(*(r.values() for r in rows), strict=True)]
    clause = CLAUSES[model.ON_CONFLICT] if resolve else ""
    return f"INSERT {clause} INTO {model.TABLE} ({', '.join(columns)}) SELECT {selects}", values


def select_by_key(cur: duckdb.DuckDBPyConnection, model: type[R], keys: set[Any]) -> dict[Any, R]:
    (column,) = model.KEY
    keys = list(keys)
    result = cur.execute(f"SELECT {', '.join(model.columns())} FROM {model.TABLE} "
                         f"WHERE {column} IN ({', '.join('?' for _ in keys)})", keys)
    names = [d[0] for d in result.description]
    rows = [model.from_record(dict(zip(names, values, strict=True))) for values in result.fetchall()]
    return {getattr(r, column): r for r in rows}


def _transaction(cur: duckdb.DuckDBPyConnection, groups: dict[type[Row], list[Row]], resolve: bool) -> None:
    """One transaction; a single statement commits on its own (an explicit BEGIN/COMMIT costs ~20% more)."""
    statements = [unnest_insert(model, rows, resolve) if len(rows) >= UNNEST_FROM else
                  (insert_sql(model, len(rows), resolve), [v for row in rows for v in row.values()])
                  for model, rows in groups.items()]
    if len(statements) == 1:
        cur.execute(*statements[0])
        return
    cur.begin()
    try:
        for sql, values in statements:
            cur.execute(sql, values)
    except BaseException:
        cur.rollback()
        raise
    cur.commit()


def _future(loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    """A reply's future. Its error counts as seen even when its caller was cancelled meanwhile (a run stopped by
    Ctrl-C): asyncio would otherwise print "exception was never retrieved" at exit."""
    done = loop.create_future()
    done.add_done_callback(lambda future: future.cancelled() or future.exception())
    return done


def _run_after(item: _After, failure: BaseException | None) -> Settled:
    if failure is not None or item.function is None:
        return item, None, failure
    try:
        return item, item.function(), None
    except Exception as exc:
        return item, None, exc


def _settle(item: _Write | _Read | _After, result: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if item.done.cancelled():
            return
        if error is None:
            item.done.set_result(result)
        else:
            item.done.set_exception(error)

    with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
        item.loop.call_soon_threadsafe(settle)
