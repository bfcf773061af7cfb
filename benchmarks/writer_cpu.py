"""The store writer's CPU per corpus problem, without HTTP or LangGraph: N problems, C at a time, each doing the
corpus nodes' reads and writes through one AsyncWriter on a fresh store (solve: get attempt, insert attempt;
critique: get verdict + get attempt, insert rule and critic verdicts; decide: get attempt, insert outcome and
corpus row). That is the awaited path, as the nodes used it before they `put` their rows and read keys from the
writer's index; levels and evaluation stages still use it.

    .venv/bin/python benchmarks/writer_cpu.py [--problems 1000] [--concurrency 1 64] [--repeats 3]
    .venv/bin/python benchmarks/writer_cpu.py --writer /tmp/old_writer.py   # another writer module, side by side

Prints per problem, for each concurrency and repeat: CPU ms (time.process_time: every thread of the process,
DuckDB's included; --work's simulated loop work left out), the part of it off the event loop's thread (the
writer's and DuckDB's threads), wall ms, and the writer's statements (execute, begin, commit)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import importlib.util
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill.store import Store  # noqa: E402
from distill.store.ingest import ingest  # noqa: E402
from distill.store.rows import AttemptRow, CorpusRow, OutcomeRow, VerdictRow  # noqa: E402

RUN = "bench"
SYSTEM = "Solve the problem. Show your work step by step, then give the final answer as \\boxed{...}. " * 8
PARAMS = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 4096}


def question(i: int) -> str:
    return f"What is {i} plus {i + 1}?"


def attempt_row(i: int, key: str) -> AttemptRow:
    work = f"{i} + {i + 1} = {2 * i + 1}. " * 20
    return AttemptRow(call_key=key, run_name=RUN, problem_id=str(i), attempt=1, model="bench",
                      base_url="http://127.0.0.1:1/v1", params=PARAMS, prompt_version="p" * 16,
                      messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question(i)}],
                      status="ok", content=f"{work}\nAnswer: \\boxed{{{2 * i + 1}}}", reasoning=work,
                      reasoning_source=None, answer=str(2 * i + 1), answer_method="boxed", answer_source="content",
                      finish_reason="stop", prompt_tokens=120, completion_tokens=300, latency_ms=1.5)


def verdict_row(i: int, key: str, judge: str) -> VerdictRow:
    critic = judge == "critic"
    return VerdictRow(verdict_key=key, run_name=RUN, problem_id=str(i), attempt=1, judge=judge,
                      verdict="accept" if critic else "correct", decided=not critic, reason="fine",
                      compared=None if critic else str(2 * i + 1), raw="ACCEPT" if critic else None,
                      model="bench" if critic else None, params=PARAMS if critic else None,
                      prompt_version="c" * 16 if critic else None,
                      messages=[{"role": "user", "content": SYSTEM}] if critic else None,
                      finish_reason="stop" if critic else None, prompt_tokens=200 if critic else None)


class Work:
    """The event loop's other work (LangGraph, HTTP, grading): `ms` per problem on average of busy Python in four
    steps of random length, in slices of at most 0.2 ms between which other tasks run (as the loop's many small
    callbacks do)."""

    SLICE = 0.0002

    def __init__(self, ms: float):
        self.step, self.spent, self.random = ms / 1000 / 4, 0.0, random.Random(0)

    async def __call__(self) -> None:
        left = self.random.uniform(0, 2 * self.step)
        while left > 0:
            started = time.thread_time()
            while time.thread_time() - started < min(left, self.SLICE):
                pass
            spent = time.thread_time() - started
            self.spent, left = self.spent + spent, left - spent
            await asyncio.sleep(0)


class Counting:
    """A cursor that counts the statements run on it (begin and commit included)."""

    def __init__(self, cur, counts: collections.Counter):
        self.cur, self.counts = cur, counts

    def __getattr__(self, name: str):
        self.counts[name] += name in ("execute", "executemany", "begin", "commit", "rollback")
        return getattr(self.cur, name)


async def problem(writer, work: Work, i: int) -> None:
    key, critic_key, rule_key = f"a{i:08d}", f"c{i:08d}", f"r{i:08d}"
    await work()
    row = await writer.get(AttemptRow, key)  # solve
    assert row is None
    row = attempt_row(i, key)
    await writer.insert(row)
    await work()
    verdict, attempt = await asyncio.gather(writer.get(VerdictRow, critic_key), writer.get(AttemptRow, key))
    assert verdict is None and attempt.call_key == key  # critique
    await writer.insert(verdict_row(i, rule_key, "rule"), verdict_row(i, critic_key, "critic"))
    await work()
    attempt = await writer.get(AttemptRow, key)  # decide
    await writer.insert(OutcomeRow(run_name=RUN, problem_id=str(i), status="accepted", reason="rule", attempts=1),
                        CorpusRow(run_name=RUN, problem_id=str(i), attempt=1, call_key=key,
                                  reasoning=attempt.reasoning, content=attempt.content, answer=attempt.answer,
                                  decided_by="rule"))
    await work()


async def drive(writer_class, store: Store, problems: int, concurrency: int, work_ms: float
                ) -> tuple[float, float]:
    """CPU seconds (the simulated work left out), those off the loop's thread, and wall seconds."""
    gate, work = asyncio.Semaphore(concurrency), Work(work_ms)

    async def one(i: int) -> None:
        async with gate:
            await problem(writer, work, i)

    cpu, loop_cpu, wall = time.process_time(), time.thread_time(), time.perf_counter()
    writer = writer_class(store)
    await asyncio.gather(*(one(i) for i in range(problems)))
    await writer.close()
    off_loop = (time.process_time() - cpu) - (time.thread_time() - loop_cpu)
    return time.process_time() - cpu - work.spent, off_loop, time.perf_counter() - wall


def measure(writer_class, problems: int, concurrency: int, work_ms: float, threads: int | None
            ) -> tuple[float, float, float, float]:
    """Per problem on one fresh store: CPU ms (without the simulated work), the part off the event loop's thread
    (the writer's and DuckDB's threads), wall ms and the writer's statements."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "sums.jsonl"
        source.write_text("".join(json.dumps({"id": str(i), "question": question(i), "answer": str(2 * i + 1)})
                                  + "\n" for i in range(problems)))
        with Store(Path(folder) / "bench.duckdb") as store:
            ingest(store, source, "jsonl", source="sums")
            counts, cursor = collections.Counter(), store.cursor
            store.cursor = lambda: Counting(cursor(), counts)
            if threads:
                store.cursor().execute(f"SET threads = {threads:d}")
            cpu, off_loop, wall = asyncio.run(drive(writer_class, store, problems, concurrency, work_ms))
            assert store.scalar("SELECT count(*) FROM corpus") == problems
            assert store.scalar("SELECT count(*) FROM verdicts") == 2 * problems
    return 1000 * cpu / problems, 1000 * off_loop / problems, 1000 * wall / problems, counts.total() / problems


def load_writer(path: str | None):
    if path is None:
        from distill.store.writer import AsyncWriter
        return AsyncWriter
    spec = importlib.util.spec_from_file_location("writer_under_test", path)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AsyncWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=float, default=0.0,
                        help="other CPU ms per problem on the event loop (busy Python, left out of the CPU shown)")
    parser.add_argument("--threads", type=int, help="DuckDB's threads (a global setting; default: one per core)")
    parser.add_argument("--linger", type=float, help="the writer's linger in ms (default: its own)")
    parser.add_argument("--writer", help="a writer module's file (default: distill.store.writer)")
    args = parser.parse_args()
    writer_class = load_writer(args.writer)
    if args.linger is not None:
        writer_class = functools.partial(writer_class, linger=args.linger / 1000)
    print(f"{args.writer or 'distill.store.writer'}: {args.problems} problems, {args.work} ms other work each, "
          f"linger {'default' if args.linger is None else args.linger} ms, DuckDB threads {args.threads or 'default'}")
    print(f"{'concurrency':>11}  {'cpu ms/problem (median)':>30}  {'off the loop':>30}  "
          f"{'wall ms/problem':>30}  statements")
    for concurrency in args.concurrency:
        runs = [measure(writer_class, args.problems, concurrency, args.work, args.threads) for _ in range(args.repeats)]
        print(f"{concurrency:>11}  {column([r[0] for r in runs])}  {column([r[1] for r in runs])}  "
              f"{column([r[2] for r in runs])}  {statistics.median(r[3] for r in runs):10.2f}", flush=True)


def column(values: list[float]) -> str:
    return f"{' '.join(f'{v:5.2f}' for v in values):>22} ({statistics.median(values):5.2f})"


if __name__ == "__main__":
    main()
