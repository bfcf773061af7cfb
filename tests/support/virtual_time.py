"""An event loop whose clock moves only when every task waits: a minute of rate limiting takes no wall time, and
the times a test sees are exact, so pacing can be asserted without flakiness."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Selector(selectors.DefaultSelector):
    """Polls without blocking; when nothing is ready, jumps the loop's clock to its next timer instead of sleeping."""

    def __init__(self, loop: VirtualTimeLoop):
        super().__init__()
        self.loop = loop

    def select(self, timeout: float | None = None):
        events = super().select(0 if timeout is not None else None)
        if not events and timeout:
            self.loop.now += timeout
        # and a nanosecond per turn of the loop, as on a real clock: a timer set a rounding error ahead
        # (aiolimiter's, for one) must not find the same time on every turn
        self.loop.now += 1e-9
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        self.now = 0.0
        super().__init__(selector=_Selector(self))

    def time(self) -> float:
        return self.now


def run_virtual(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on virtual time, starting at 0."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(coroutine)
