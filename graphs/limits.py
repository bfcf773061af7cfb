"""Request limits for a run: requests per minute, tokens per minute and a token budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

# A bucket holds this many seconds of its rate, so a fresh run does not burst a whole minute's quota at once.
BURST_SECONDS = 5.0


class BudgetExhausted(RuntimeError):
    """The run's token budget is spent: no new request starts; the run can resume with a larger budget."""


class TokenBucket:
    """Continuous refill at `per_minute`; `acquire(n)` waits until n units are available. Actual usage can be
    settled afterwards with `settle`, so estimates that were too low are paid back before the next request."""

    def __init__(self, per_minute: float, min_capacity: float = 1.0):
        self.rate = per_minute / 60.0
        self.capacity = max(min_capacity, self.rate * BURST_SECONDS)
        self.level = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, amount: float = 1.0) -> None:
        amount = min(amount, self.capacity)
        async with self.lock:
            while True:
                self._refill()
                if self.level >= amount:
                    self.level -= amount
                    return
                await asyncio.sleep((amount - self.level) / self.rate)

    def settle(self, difference: float) -> None:
        """Charge (positive) or refund (negative) the difference between actual and estimated usage."""
        self._refill()
        self.level = min(self.capacity, self.level - difference)


class Limits:
    """Shared by all of a run's requests."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None, token_budget: int | None = None,
                 spent: int = 0):
        self.requests = TokenBucket(rpm) if rpm else None
        self.tokens = TokenBucket(tpm, min_capacity=8192) if tpm else None
        self.token_budget = token_budget
        self.spent = spent

    async def before_request(self) -> None:
        """Runs before every HTTP try (retries included)."""
        if self.requests is not None:
            await self.requests.acquire()

    def check_budget(self) -> None:
        if self.token_budget is not None and self.spent >= self.token_budget:
            raise BudgetExhausted(f"token budget spent: {self.spent:,} of {self.token_budget:,} tokens")

    @asynccontextmanager
    async def call(self, estimated_tokens: int) -> AsyncIterator[Callable[[int], None]]:
        """Wrap one LLM call: refuses when the budget is spent, waits for TPM, then records actual tokens."""
        self.check_budget()
        if self.tokens is not None:
            await self.tokens.acquire(estimated_tokens)
        used: list[int] = []
        yield used.append
        actual = sum(used)
        self.spent += actual
        if self.tokens is not None:
            self.tokens.settle(actual - min(estimated_tokens, self.tokens.capacity))
