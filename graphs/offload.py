"""Blocking work off the event loop: the rule check (sympy through math-verify; about a millisecond, now and then
far more) runs in a small thread pool, so the problems in flight never wait for another problem's grading.

Threads rather than processes: a check is about a millisecond, which a process pool's pickling and each worker's
sympy import (about a second) would dwarf, and the GIL still hands the loop its turn between a check's bytecodes.
math-verify's own timeouts are signal-based and fail off the main thread, so agents/equivalence.py calls it with
them disabled and refuses what could run away instead (tests/agents/test_equivalence_table.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# Two: one slow check does not hold up the others, and few threads leave the loop most of the GIL.
GRADING_THREADS = 2
_pool = ThreadPoolExecutor(GRADING_THREADS, thread_name_prefix="distill-grading")


async def off_loop(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in the grading pool, awaited without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)
