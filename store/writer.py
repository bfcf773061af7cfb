"""Group commit for asyncio code: one background thread writes, batching whatever is queued into one
transaction; each `await writer.write(...)` returns only once its statements are committed."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from typing import Any

from distill.store.db import Store

Statement = tuple[str, list[Any]]


class AsyncWriter:
    def __init__(self, store: Store):
        self.store = store
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="distill-store-writer", daemon=True)
        self.thread.start()

    async def write(self, *statements: Statement) -> None:
        """Execute `statements` together in one transaction (with whatever else is queued); raise its error."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.queue.put((statements, done, loop))
        await asyncio.shield(done)  # a cancelled caller does not cancel a write that is under way

    async def close(self) -> None:
        self.queue.put(None)
        await asyncio.to_thread(self.thread.join)

    def _run(self) -> None:
        cur = self.store.cursor()  # this thread's own connection
        stop = False
        while not stop:
            first = self.queue.get()
            if first is None:
                break
            batch = [first]
            while True:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                self._commit(cur, [s for statements, _, _ in batch for s in statements])
                outcomes: list[BaseException | None] = [None] * len(batch)
            except Exception:  # one bad item must not fail the others: redo them one by one
                outcomes = [self._alone(cur, statements) for statements, _, _ in batch]
            for (_, done, loop), error in zip(batch, outcomes, strict=True):
                with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
                    loop.call_soon_threadsafe(_settle, done, error)

    @staticmethod
    def _commit(cur, statements: list[Statement]) -> None:
        cur.begin()
        try:
            for sql, params in coalesce(statements):
                cur.execute(sql, params)
        except BaseException:
            cur.rollback()
            raise
        cur.commit()

    def _alone(self, cur, statements: tuple[Statement, ...]) -> BaseException | None:
        try:
            self._commit(cur, list(statements))
        except Exception as exc:
            return exc
        return None


def coalesce(statements: list[Statement]) -> list[Statement]:
    """Single-row INSERTs with the same head (table, columns, conflict clause) become one multi-row INSERT:
    DuckDB pays per statement (~1 ms), far more than per row. Other statements keep their place."""
    merged: dict[str, tuple[str, list[Any]]] = {}
    out: list[Statement | str] = []
    for sql, params in statements:
        head, marker, values = sql.partition(" VALUES ")
        if not (marker and sql.startswith("INSERT") and values.count("(") == 1):
            out.append((sql, params))
            continue
        if head not in merged:
            merged[head] = (values, [])
            out.append(head)
        merged[head][1].append(params)
    result: list[Statement] = []
    for entry in out:
        if isinstance(entry, str):
            values, rows = merged[entry]
            result.append((f"{entry} VALUES {', '.join([values] * len(rows))}", [p for row in rows for p in row]))
        else:
            result.append(entry)
    return result


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
