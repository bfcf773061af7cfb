"""Waiting in tests for something another process or thread does."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float = 60.0, every: float = 0.05):
    """`condition()`'s first true value, polled every `every` seconds; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(every)
