"""Cancelling a job that runs in a thread: what Ctrl-C is to a command, `CancelScope.cancel()` is to a service job.
The job's thread enters `cancellable(scope)`; the runner's asyncio stages bind their main task to it (a cancel
cancels that task, as Ctrl-C does), and the synchronous loops (training, MLX generation, the study's stages) call
`check()` between steps. Everything finished stays stored; the next run resumes."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Iterator


class Cancelled(Exception):
    """The job was cancelled; what finished is stored."""


class CancelScope:
    def __init__(self) -> None:
        self._requested = threading.Event()
        self._lock = threading.Lock()
        self._tasks: list[tuple[asyncio.AbstractEventLoop, asyncio.Task]] = []

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def cancel(self) -> None:
        self._requested.set()
        with self._lock:
            for loop, task in self._tasks:
                loop.call_soon_threadsafe(task.cancel)

    def check(self) -> None:
        if self.requested:
            raise Cancelled("cancelled")

    @contextlib.contextmanager
    def bind_task(self) -> Iterator[None]:
        """Cancel the running asyncio task on `cancel()` (call inside the task)."""
        entry = (asyncio.get_running_loop(), asyncio.current_task())
        with self._lock:
            self._tasks.append(entry)
        try:
            self.check()
            yield
        except asyncio.CancelledError:
            if self.requested:
                raise Cancelled("cancelled") from None
            raise
        finally:
            with self._lock:
                self._tasks.remove(entry)


_current: contextvars.ContextVar[CancelScope | None] = contextvars.ContextVar("distill_cancel_scope", default=None)


@contextlib.contextmanager
def cancellable(scope: CancelScope) -> Iterator[CancelScope]:
    """Run the block (in this thread, and the asyncio loops it starts) under `scope`."""
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def check() -> None:
    """Raise Cancelled if this thread's job was cancelled; nothing outside a job."""
    scope = _current.get()
    if scope is not None:
        scope.check()


@contextlib.contextmanager
def bound_task() -> Iterator[None]:
    """Inside an asyncio task: a cancel of this thread's job cancels the task (and raises Cancelled)."""
    scope = _current.get()
    if scope is None:
        yield
        return
    with scope.bind_task():
        yield
