"""Live SQL while a corpus build writes: a real `distill serve` runs a corpus job at full speed against the local
test server (no latency; the solver is wrong on a fifth of the problems and the LLM critic accepts anyway, so the
`disagreements` view has rows), and 50 `SELECT * FROM disagreements` go through `POST /api/sql` meanwhile. Then
the same 50 queries on the idle service, side by side.

    .venv/bin/python benchmarks/service_sql_latency.py [--problems 3000] [--queries 50] [--concurrency 16]

Prints latency percentiles (client-measured, HTTP included) and how many queries ran while the job was writing.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.helpers import ADD, Service, client_of, corpus_job, seed_sums, wait_for  # noqa: E402
from tests.support.openai_server import OpenAIServer, Reply, is_critic, user_text  # noqa: E402


def teacher(request):
    a, b = map(int, ADD.search(user_text(request)).groups())
    if is_critic(request):
        return Reply(content="VERDICT: ACCEPT\nREASON: fine.", completion_tokens=4)
    answer = a + b + (1 if a % 5 == 0 else 0)
    return Reply(content=f"Answer: \\boxed{{{answer}}}", reasoning_content=f"{a} + {b} = {answer}.")


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"p50 {1000 * statistics.median(ordered):7.1f} ms   p95 {1000 * p95:7.1f} ms   "
            f"max {1000 * ordered[-1]:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.duckdb"
        seed_sums(db, args.problems)
        with OpenAIServer(teacher) as server, Service(db) as service:
            client = client_of(service)
            job = client.submit(corpus_job(server.base_url, "bench", args.concurrency, critic_mode="llm",
                                           max_attempts=1))["job_id"]
            wait_for(lambda: (client.job(job)["progress"] or {}).get("done", 0) >= 100, timeout=300)
            busy, during, rows = [], 0, 0
            started_done = client.job(job)["progress"]["done"]
            for _ in range(args.queries):
                started = time.perf_counter()
                result = client.sql("SELECT * FROM disagreements")
                busy.append(time.perf_counter() - started)
                rows = len(result["rows"])
                during += client.job(job)["status"] == "running"
            ended_done = client.job(job)["progress"]["done"]
            wait_for(lambda: client.job(job)["status"] != "running", timeout=1800, every=0.5)
            final = client.job(job)
            idle = []
            for _ in range(args.queries):
                started = time.perf_counter()
                client.sql("SELECT * FROM disagreements")
                idle.append(time.perf_counter() - started)
    seconds = final["progress"]["seconds"]
    print(f"corpus job: {final['progress']['done']} problems in {seconds:.0f} s "
          f"({final['progress']['done'] / seconds:.1f} problems/s, 2 calls each), status {final['status']}")
    print(f"{args.queries} queries of `SELECT * FROM disagreements` (last answer: {rows} rows):")
    print(f"  while the job writes ({during}/{args.queries} ran during it; it finished problems "
          f"{started_done}..{ended_done} meanwhile): {percentiles(busy)}")
    print(f"  idle service, same queries and final store: {percentiles(idle)}")


if __name__ == "__main__":
    main()
