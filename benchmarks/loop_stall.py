"""How long the event loop stalls while answers are graded: inline in the coroutine (as the check node used to
run it) against the grading pool (graphs/offload.py), and what the hand-off to the pool costs.

    .venv/bin/python benchmarks/loop_stall.py [--problems 16] [--repeat 3]

A heartbeat task sleeps 1 ms at a time; its longest gap is how long every other problem in flight waited.
Grades slow-ish real forms (nested radicals, trigonometric values, expanded polynomials). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill.agents.equivalence import check_answer  # noqa: E402
from distill.graphs.offload import off_loop  # noqa: E402

PAIRS = [  # (predicted, gold): each takes sympy from a few to a few hundred milliseconds
    ("\\cos(\\pi/12)", "\\frac{\\sqrt{6}+\\sqrt{2}}{4}"),
    ("\\sqrt{5+2\\sqrt{6}}", "\\sqrt{2}+\\sqrt{3}"),
    ("\\sqrt{2}-1", "\\tan(\\pi/8)"),
    ("x^{6}+6x^{5}+15x^{4}+20x^{3}+15x^{2}+6x+1", "(x+1)^{6}"),
    ("0.428571", "\\frac{3}{7}"),
    ("42", "42"),
]


async def graded(pool: bool, problems: int, seed: int) -> tuple[float, list[float], float]:
    """(longest heartbeat gap, all gaps, wall seconds) while `problems` coroutines grade every pair."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat():
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def problem(number: int):
        for predicted, gold in PAIRS:  # a term of its own per problem, so that sympy's caches do not answer
            predicted, gold = f"{number} + {predicted}", f"{number} + {gold}"
            if pool:
                await off_loop(check_answer, predicted, gold)
            else:
                check_answer(predicted, gold)
            await asyncio.sleep(0)  # the node returns; the graph moves on

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await asyncio.gather(*(problem(seed + number) for number in range(problems)))
    wall = time.perf_counter() - started
    done.set()
    await beat
    return max(gaps), gaps, wall


async def hand_off_cost(calls: int) -> float:
    """CPU seconds per off_loop call of a function that does nothing."""
    started = time.process_time()
    for _ in range(calls):
        await off_loop(int)
    return (time.process_time() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=16, help="problems grading at once")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for predicted, gold in PAIRS:  # warm math-verify and sympy's caches
        check_answer(predicted, gold)
    print(f"{args.problems} problems x {len(PAIRS)} answers each; heartbeat every 1 ms")
    print(f"{'grading':>8} {'longest stall ms':>17} {'p99 gap ms':>11} {'wall s':>7}")
    for pool in (False, True):
        runs = [asyncio.run(graded(pool, args.problems, 1000 * (2 * run + pool))) for run in range(args.repeat)]
        longest = statistics.median(run[0] for run in runs) * 1000
        p99 = statistics.median(statistics.quantiles(run[1], n=100, method="inclusive")[98] for run in runs) * 1000
        wall = statistics.median(run[2] for run in runs)
        print(f"{'pool' if pool else 'inline':>8} {longest:>17.1f} {p99:>11.1f} {wall:>7.2f}")
    print(f"hand-off to the pool: {asyncio.run(hand_off_cost(2000)) * 1e6:.0f} us CPU per call")


if __name__ == "__main__":
    main()
