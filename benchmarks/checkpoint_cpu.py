"""CPU per graph thread for LangGraph's stock AsyncSqliteSaver and distill's GroupCommitSaver (graphs/checkpoints.py),
side by side in one run, and without a checkpointer as the floor: a 4-node graph of trivial async nodes with a
15-key state (the corpus graph's shape), 64 threads in flight.

    .venv/bin/python benchmarks/checkpoint_cpu.py [--threads 600] [--concurrency 64] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosqlite  # noqa: E402
from distill.graphs.checkpoints import open_checkpointer  # noqa: E402
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402

KEYS = 15
State = TypedDict("State", {f"k{i}": str for i in range(KEYS)} | {"n": int}, total=False)


def builder(nodes: int = 4) -> StateGraph:
    graph = StateGraph(State)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        async def node(state: State) -> dict:
            return {"k0": "x" * 50, "n": state.get("n", 0) + 1}
        graph.add_node(name, node)
    graph.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        graph.add_edge(a, b)
    graph.add_edge(names[-1], END)
    return graph


async def cpu_per_thread(saver, threads: int, concurrency: int) -> float:
    graph = builder().compile(checkpointer=saver)
    gate = asyncio.Semaphore(concurrency)
    state = {f"k{i}": "a question of some length " * 4 for i in range(KEYS)}

    async def one(i: int) -> None:
        async with gate:
            await graph.ainvoke(state, {"configurable": {"thread_id": f"t{i}"}})

    await asyncio.gather(*(one(-i - 1) for i in range(50)))  # warm-up
    started = time.process_time()
    await asyncio.gather(*(one(i) for i in range(threads)))
    return (time.process_time() - started) / threads * 1000


async def stock(folder: Path, threads: int, concurrency: int) -> float:
    async with aiosqlite.connect(str(folder / "stock.sqlite")) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        return await cpu_per_thread(AsyncSqliteSaver(conn), threads, concurrency)


async def group_commit(folder: Path, threads: int, concurrency: int) -> float:
    async with open_checkpointer(folder / "group.sqlite") as saver:
        saver.know_threads(set())  # as the runner does: no thread of this run had a checkpoint
        return await cpu_per_thread(saver, threads, concurrency)


async def none(folder: Path, threads: int, concurrency: int) -> float:
    return await cpu_per_thread(None, threads, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    savers = {"AsyncSqliteSaver": stock, "GroupCommitSaver": group_commit, "no checkpointer": none}
    best = dict.fromkeys(savers, float("inf"))
    for _ in range(args.repeat):  # interleaved, best of each
        for name, run in savers.items():
            with tempfile.TemporaryDirectory() as folder:
                best[name] = min(best[name], asyncio.run(run(Path(folder), args.threads, args.concurrency)))
    for name, ms in best.items():
        print(f"{name:>17}: {ms:5.2f} ms CPU per thread ({args.concurrency} in flight, 4 steps)")
    print(f"ratio stock / group commit: {best['AsyncSqliteSaver'] / best['GroupCommitSaver']:.2f}")


if __name__ == "__main__":
    main()
