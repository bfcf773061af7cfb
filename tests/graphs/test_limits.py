"""Pacing of requests and tokens (graphs/limits.py) on a virtual clock: exact times, no wall-clock waits."""

import asyncio

import pytest
from distill.graphs.limits import MIN_TOKEN_BUCKET, BudgetExhausted, Limits

from tests.support.virtual_time import run_virtual


def request_times(rpm: float, requests: int) -> list[float]:
    async def go():
        limits, loop = Limits(rpm=rpm), asyncio.get_running_loop()

        async def one():
            await limits.before_request()
            return loop.time()

        return await asyncio.gather(*(one() for _ in range(requests)))

    return run_virtual(go())


def test_rpm_allows_a_five_second_burst_then_paces_at_the_rate():
    times = request_times(rpm=60, requests=12)
    assert times == pytest.approx([0.0] * 5 + [float(k) for k in range(1, 8)], abs=1e-3)


def test_a_low_rpm_lets_one_request_through_at_a_time():
    assert request_times(rpm=6, requests=4) == pytest.approx([0.0, 10.0, 20.0, 30.0], abs=1e-3)


def token_run(tpm: float, calls: int, estimate: int, actual: int, workers: int = 1) -> float:
    """`calls` LLM calls by `workers` concurrent loops; returns the virtual seconds they took."""

    async def go():
        limits, left = Limits(tpm=tpm), [calls]

        async def worker():
            while left[0] > 0:
                left[0] -= 1
                async with limits.call(estimate) as record:
                    await asyncio.sleep(0.01)  # the request itself
                    record(actual)

        await asyncio.gather(*(worker() for _ in range(workers)))
        assert limits.spent == calls * actual
        return asyncio.get_running_loop().time()

    return run_virtual(go())


@pytest.mark.parametrize("estimate, actual, workers", [
    (4096, 1000, 1),  # max_tokens overestimates: the credit lets the next calls through sooner
    (4096, 1000, 8),
    (500, 3000, 1),  # underestimates: the debt holds the next calls back
    (500, 3000, 8),
])
def test_tpm_paces_by_the_tokens_used_not_the_estimates(estimate, actual, workers):
    tpm, calls = 60_000, 60  # 1,000 tokens a second
    elapsed = token_run(tpm, calls, estimate, actual, workers)
    # The bucket starts full; after that it passes what the calls used, within one reservation.
    assert elapsed * 1000 == pytest.approx(calls * actual - MIN_TOKEN_BUCKET, abs=max(estimate, actual) + 100)


def test_tpm_settling_is_what_makes_overestimates_cheap():
    by_estimates = (60 * 4096 - MIN_TOKEN_BUCKET) / 1000  # what reserving 4,096 tokens per call would cost
    assert token_run(60_000, 60, 4096, 1000) < by_estimates / 3


def test_a_call_larger_than_the_bucket_is_charged_in_full():
    # 100 tokens a second, a bucket of 8,192: each call waits until the one before has drained
    elapsed = token_run(tpm=6_000, calls=3, estimate=20_000, actual=20_000)
    assert elapsed == pytest.approx(2 * 20_000 / 100, abs=1)


def test_the_token_budget_refuses_new_calls_once_spent():
    async def go():
        limits = Limits(token_budget=5000)
        for _ in range(3):
            async with limits.call(100) as record:
                record(2000)
        with pytest.raises(BudgetExhausted, match="6,000 of 5,000"):
            async with limits.call(100):
                pass
        return limits.spent

    assert run_virtual(go()) == 6000


def test_without_limits_nothing_waits():
    assert request_times(rpm=None, requests=50) == pytest.approx([0.0] * 50, abs=1e-3)
    assert token_run(tpm=None, calls=20, estimate=10**6, actual=10**6) == pytest.approx(20 * 0.01, abs=1e-3)
