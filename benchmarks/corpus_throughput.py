"""Corpus-loop throughput against a local OpenAI-compatible server with a fixed latency per call.

Prints problems/s at several concurrencies as a ratio to the ideal (concurrency / calls per problem / latency),
and the orchestration overhead per problem at zero latency. Targets: >= 0.9 of ideal at concurrency 64;
<= 10 ms overhead per problem.

    .venv/bin/python benchmarks/corpus_throughput.py [--latency 0.2] [--concurrency 1 8 32 64]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill.agents.endpoints import EndpointConfig  # noqa: E402
from distill.graphs.build import make_role  # noqa: E402
from distill.graphs.config import CorpusConfig  # noqa: E402
from distill.graphs.corpus_run import run_corpus  # noqa: E402
from distill.store import Store  # noqa: E402
from distill.store.ingest import ingest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CALLS_PER_PROBLEM = 2  # solver + critic (cascade mode, every attempt right the first time)


@contextlib.contextmanager
def server_process(latency: float):
    """The scripted server in its own process, so that it does not share this process's GIL."""
    process = subprocess.Popen([sys.executable, "-m", "tests.support.openai_server", "--latency", str(latency)],
                               cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait()


def measure(problems: int, concurrency: int, latency: float) -> float:
    """Wall seconds for one fresh run of `problems` problems."""
    with tempfile.TemporaryDirectory() as folder, server_process(latency) as base_url:
        db = Path(folder) / "bench.duckdb"
        source = Path(folder) / "sums.jsonl"
        source.write_text("".join(json.dumps({"id": str(i), "question": f"What is {i} plus {i + 1}?",
                                              "answer": str(2 * i + 1)}) + "\n" for i in range(problems)))
        with Store(db) as store:
            ingest(store, source, "jsonl", source="sums")
            endpoint = EndpointConfig(base_url=base_url, model="bench")
            config = CorpusConfig(teacher=endpoint, pacing={"concurrency": concurrency})
            solver, critic = make_role("solver", endpoint, config), make_role("critic", endpoint, config)
            started = time.perf_counter()
            tally = asyncio.run(run_corpus(store, "bench", config, solver, critic))
            elapsed = time.perf_counter() - started
            assert tally.accepted == problems, tally
            assert store.scalar("SELECT count(*) FROM attempts") == problems
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per call")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--rounds", type=int, default=6, help="problems per slot: concurrency x rounds")
    args = parser.parse_args()
    measure(8, 4, 0.0)  # warm-up: imports, math-verify's first parse
    print(f"latency {args.latency * 1000:.0f} ms per call, {CALLS_PER_PROBLEM} calls per problem")
    print(f"{'concurrency':>11} {'problems':>8} {'seconds':>8} {'problems/s':>10} {'ideal/s':>8} {'ratio':>6}")
    for concurrency in args.concurrency:
        problems = max(10, concurrency * args.rounds)
        elapsed = measure(problems, concurrency, args.latency)
        rate = problems / elapsed
        ideal = concurrency / CALLS_PER_PROBLEM / args.latency
        print(f"{concurrency:>11} {problems:>8} {elapsed:>8.2f} {rate:>10.2f} {ideal:>8.2f} {rate / ideal:>6.3f}")
    problems = 200
    elapsed = measure(problems, 1, 0.0)
    print(f"zero latency, concurrency 1: {elapsed / problems * 1000:.2f} ms per problem "
          f"(orchestration + local HTTP for {CALLS_PER_PROBLEM} calls; target <= 10 ms)")


if __name__ == "__main__":
    main()
