"""One distill process, many requests in flight: the corpus loop at a high concurrency against the local scripted
server (its own process) with slow calls. Prints calls/s against the ideal (concurrency / latency: every slot
always waiting on a call) and the distill process's peak resident memory (RSS). The measured row of docs/scale.md.

    nice -n 15 .venv/bin/python benchmarks/scale_row.py [--concurrency 1024] [--latency 2] [--rounds 4]

Each problem is two calls, one after the other (solver, then critic: cascade mode, every answer right), stored and
checkpointed as in a real run. The process is this script: ingest, the run, the store and the checkpointer;
`resource.getrusage` gives its peak RSS, /proc its RSS before the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
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

from benchmarks.corpus_throughput import server_process  # noqa: E402


def rss_mib() -> float:
    """This process's resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=1024, help="problems in flight (the corpus pacing)")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds the server takes per call")
    parser.add_argument("--rounds", type=int, default=4, help="problems per slot: concurrency x rounds")
    args = parser.parse_args()
    problems = args.concurrency * args.rounds
    with tempfile.TemporaryDirectory() as folder, server_process(args.latency) as base_url:
        source = Path(folder) / "sums.jsonl"
        source.write_text("".join(json.dumps({"id": str(i), "question": f"What is {i} plus {i + 1}?",
                                              "answer": str(2 * i + 1)}) + "\n" for i in range(problems)))
        with Store(Path(folder) / "bench.duckdb") as store:
            ingest(store, source, "jsonl", source="sums")
            endpoint = EndpointConfig(base_url=base_url, model="bench")
            config = CorpusConfig(teacher=endpoint, pacing={"concurrency": args.concurrency})
            solver, critic = make_role("solver", endpoint, config), make_role("critic", endpoint, config)
            before = rss_mib()
            started_cpu, started = time.process_time(), time.perf_counter()
            tally = asyncio.run(run_corpus(store, "bench", config, solver, critic))
            seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            calls = store.scalar("SELECT count(*) FROM attempts") + store.scalar(
                "SELECT count(*) FROM verdicts WHERE judge = 'critic'")
            retries = store.scalar("SELECT coalesce(sum(retries), 0) FROM attempts")
            failed = store.scalar("SELECT count(*) FROM call_errors")
    assert tally.accepted == problems, tally
    rate, ideal = calls / seconds, args.concurrency / args.latency
    print(f"concurrency {args.concurrency}, {args.latency:g} s per call, {problems} problems, {calls} calls "
          f"({retries} retries, {failed} failed calls)")
    print(f"{'seconds':>8} {'calls/s':>8} {'ideal/s':>8} {'ratio':>6} {'cpu ms/call':>11} {'RSS before MiB':>14} "
          f"{'peak RSS MiB':>12}")
    print(f"{seconds:>8.1f} {rate:>8.1f} {ideal:>8.1f} {rate / ideal:>6.3f} {cpu / calls * 1000:>11.2f} "
          f"{before:>14.0f} {peak_rss_mib():>12.0f}")


if __name__ == "__main__":
    main()
