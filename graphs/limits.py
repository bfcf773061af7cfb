"""Request limits for a run: requests per minute and tokens per minute (aiolimiter's leaky buckets), and a token
budget.

Tokens per minute are settled against what calls really used, as the API's own meter counts them: a call
reserves its estimate (prompt and max_tokens, at most one bucket) before it starts, and when it returns the
difference is charged (it used more: later calls wait longer) or refunded (it used less, the usual case, as
max_tokens is an upper bound: waiting calls go sooner). The bucket thus holds the tokens of finished calls plus
the estimates of calls in flight, and the long-run rate is the real tpm, not the estimated one. aiolimiter has
no refund, so `SettlingLimiter` adds one through the bucket's own leak step (aiolimiter is pinned below 2 and
tests/graphs/test_limits.py pins the behaviour).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiolimiter import AsyncLimiter

# A bucket holds this many seconds of its rate, so a fresh run does not burst a whole minute's quota at once.
BURST_SECONDS = 5.0
MIN_TOKEN_BUCKET = 8192  # one request's tokens must fit in the bucket, whatever the tpm


class BudgetExhausted(RuntimeError):
    """The run's token budget is spent: no new request starts; the run can resume with a larger budget."""


class SettlingLimiter(AsyncLimiter):
    """A leaky bucket that lets `per_minute` through per minute, with bursts of BURST_SECONDS of it (at least
    min_capacity), and can settle a reservation afterwards."""

    def __init__(self, per_minute: float, min_capacity: float = 1.0):
        rate = per_minute / 60.0
        capacity = max(min_capacity, rate * BURST_SECONDS)
        super().__init__(capacity, capacity / rate)

    def settle(self, difference: float) -> None:
        """Charge (positive) or refund (negative) the difference between actual and reserved usage. A charge may
        fill the bucket past its capacity: new reservations then wait until it has drained below it."""
        self._leak()
        self._level = max(0.0, self._level + difference)
        self._wake_next()


class Limits:
    """Shared by all of a run's requests."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None, token_budget: int | None = None,
                 spent: int = 0):
        self.requests = SettlingLimiter(rpm) if rpm else None
        self.tokens = SettlingLimiter(tpm, MIN_TOKEN_BUCKET) if tpm else None
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
        reserved = 0
        if self.tokens is not None:
            reserved = min(estimated_tokens, self.tokens.max_rate)
            await self.tokens.acquire(reserved)
        used: list[int] = []
        yield used.append
        actual = sum(used)
        self.spent += actual
        if self.tokens is not None:
            self.tokens.settle(actual - reserved)
