"""Corpus-loop throughput against a local OpenAI-compatible server with a fixed latency per call, and side by side
with curator against the same server in the same run.

    .venv/bin/python benchmarks/corpus_throughput.py [--latency 0.2] [--concurrency 1 8 32 64]
    .venv/bin/python benchmarks/corpus_throughput.py --vs-curator [--concurrency 64] [--latency 0.2]

Without --vs-curator: problems/s at each concurrency as a ratio to the ideal (concurrency / latency calls per
second), then distill's own CPU per problem at zero latency. The server runs in its own process, so the CPU time
counted here (time.process_time: every thread of this process, the store's writer and grading pool included) is
the client's alone. Targets: >= 0.9 of ideal at concurrency 256 with 2 s calls; <= 5 ms CPU per problem.

With --vs-curator: the three targets of one run. First, for each concurrency, distill and curator (in its own
environment: scripts/bench_env.sh) make the same number of calls with the same messages (distill's solver and
critic prompts) to a fresh server each, and the table prints calls/s for both and their ratio (target: distill
>= 1.5x curator at 64 with 200 ms calls). Curator gets the easier shape: all its calls are independent (one
dataset), while distill's two calls per problem run one after the other through the corpus graph, stored and
checkpointed. Then distill alone: its client CPU per problem at zero latency (target <= 5 ms) and its ratio to
ideal at concurrency 256 with 2 s calls (target >= 0.9; --ideal-concurrency, --ideal-latency).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill.agents.critic import critic_messages  # noqa: E402
from distill.agents.endpoints import EndpointConfig  # noqa: E402
from distill.agents.prompts import load_prompt  # noqa: E402
from distill.agents.solver import solver_messages  # noqa: E402
from distill.graphs.build import make_role  # noqa: E402
from distill.graphs.config import CorpusConfig  # noqa: E402
from distill.graphs.corpus_run import run_corpus  # noqa: E402
from distill.store import Store  # noqa: E402
from distill.store.ingest import ingest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CALLS_PER_PROBLEM = 2  # solver + critic (cascade mode, every attempt right the first time)
CURATOR_PYTHON = REPO / ".venv-curator" / "bin" / "python"


@dataclass
class Result:
    calls: int
    seconds: float
    cpu_s: float  # the client's CPU time, the server's not included

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds


@contextlib.contextmanager
def server_process(latency: float):
    """The scripted server in its own process, so that it does not share the client's GIL or CPU count."""
    process = subprocess.Popen([sys.executable, "-m", "tests.support.openai_server", "--latency", str(latency)],
                               cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait()


def question(i: int) -> str:
    return f"What is {i} plus {i + 1}?"


def run_distill(problems: int, concurrency: int, latency: float) -> Result:
    """One fresh corpus run of `problems` problems (two calls each)."""
    with tempfile.TemporaryDirectory() as folder, server_process(latency) as base_url:
        db = Path(folder) / "bench.duckdb"
        source = Path(folder) / "sums.jsonl"
        source.write_text("".join(json.dumps({"id": str(i), "question": question(i), "answer": str(2 * i + 1)}) + "\n"
                                  for i in range(problems)))
        with Store(db) as store:
            ingest(store, source, "jsonl", source="sums")
            endpoint = EndpointConfig(base_url=base_url, model="bench")
            config = CorpusConfig(teacher=endpoint, pacing={"concurrency": concurrency})
            solver, critic = make_role("solver", endpoint, config), make_role("critic", endpoint, config)
            started_cpu, started = time.process_time(), time.perf_counter()
            tally = asyncio.run(run_corpus(store, "bench", config, solver, critic))
            elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            assert tally.accepted == problems, tally
            assert store.scalar("SELECT count(*) FROM attempts") == problems
    return Result(problems * CALLS_PER_PROBLEM, elapsed, cpu)


def curator_requests(problems: int) -> list[list[dict[str, str]]]:
    """The messages distill sends for `problems` problems: each solver prompt and each critic prompt."""
    solver, critic = load_prompt("solver"), load_prompt("critic")
    requests = []
    for i in range(problems):
        requests.append(solver_messages(solver, question(i)))
        work = f"{i} + {i + 1} = {2 * i + 1}.\nAnswer: \\boxed{{{2 * i + 1}}}"
        requests.append(critic_messages(critic, question(i), str(2 * i + 1), work, str(2 * i + 1)))
    return requests


def run_curator(problems: int, concurrency: int, latency: float, python: Path) -> Result:
    """Curator makes the same calls as `problems` distill problems, in its own process and environment."""
    sampling = EndpointConfig(base_url="http://x", model="bench").sampling.model_dump(exclude_none=True)
    job = {"model": "bench", "concurrency": concurrency, "requests": curator_requests(problems), "sampling": sampling}
    with server_process(latency) as base_url:
        job["base_url"] = base_url
        done = subprocess.run([str(python), str(REPO / "benchmarks" / "curator_side.py")], input=json.dumps(job),
                              capture_output=True, text=True, env={**os.environ, "NO_PROXY": "127.0.0.1"})
    if done.returncode != 0:
        raise SystemExit(f"curator failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["answered"] == result["calls"], result
    return Result(result["calls"], result["seconds"], result["cpu_s"])


def vs_curator(args: argparse.Namespace) -> None:
    python = Path(args.curator_python)
    if not python.exists():
        raise SystemExit(f"no curator environment at {python}: run scripts/bench_env.sh first")
    print(f"latency {args.latency * 1000:.0f} ms per call; same calls and messages for both; "
          f"{args.repeat} run(s) each, interleaved, best shown")
    print(f"{'concurrency':>11} {'calls':>6} {'distill/s':>9} {'curator/s':>9} {'ratio':>6} {'ideal/s':>8} "
          f"{'distill cpu ms/call':>19} {'curator cpu ms/call':>19}")
    for concurrency in args.concurrency:
        problems = max(10, concurrency * args.rounds)
        runs: dict[str, list[Result]] = {"distill": [], "curator": []}
        for _ in range(args.repeat):
            runs["curator"].append(run_curator(problems, concurrency, args.latency, python))
            runs["distill"].append(run_distill(problems, concurrency, args.latency))
        ours, theirs = (max(runs[k], key=lambda r: r.calls_per_s) for k in ("distill", "curator"))
        ideal = concurrency / args.latency if args.latency else float("nan")
        print(f"{concurrency:>11} {ours.calls:>6} {ours.calls_per_s:>9.1f} {theirs.calls_per_s:>9.1f} "
              f"{ours.calls_per_s / theirs.calls_per_s:>6.2f} {ideal:>8.1f} "
              f"{ours.cpu_s / ours.calls * 1000:>19.2f} {theirs.cpu_s / theirs.calls * 1000:>19.2f}", flush=True)
    print("target: distill/curator >= 1.5 at concurrency 64 with 200 ms calls", flush=True)
    print()
    print("distill alone")
    zero_latency_cpu()
    concurrency, latency = args.ideal_concurrency, args.ideal_latency
    problems = concurrency * args.rounds
    result = run_distill(problems, concurrency, latency)
    ideal = concurrency / latency
    print(f"concurrency {concurrency}, {latency * 1000:.0f} ms calls: {result.calls} calls in {result.seconds:.2f} s, "
          f"{result.calls_per_s:.1f} calls/s of ideal {ideal:.1f}: ratio {result.calls_per_s / ideal:.3f} "
          "(target >= 0.9)", flush=True)


def zero_latency_cpu(problems: int = 300) -> None:
    """distill's own CPU per problem (the server's apart) with an instant server, one at a time and 64 at once."""
    for concurrency in (1, 64):
        result = run_distill(problems, concurrency, 0.0)
        print(f"zero latency, concurrency {concurrency}: {result.cpu_s / problems * 1000:.2f} ms of client CPU per "
              f"problem, {result.seconds / problems * 1000:.2f} ms wall (target <= 5 ms CPU)", flush=True)


def sweep(args: argparse.Namespace) -> None:
    print(f"latency {args.latency * 1000:.0f} ms per call, {CALLS_PER_PROBLEM} calls per problem")
    print(f"{'concurrency':>11} {'problems':>8} {'seconds':>8} {'calls/s':>8} {'ideal/s':>8} {'ratio':>6}")
    for concurrency in args.concurrency:
        problems = max(10, concurrency * args.rounds)
        result = run_distill(problems, concurrency, args.latency)
        ideal = concurrency / args.latency
        print(f"{concurrency:>11} {problems:>8} {result.seconds:>8.2f} {result.calls_per_s:>8.1f} {ideal:>8.1f} "
              f"{result.calls_per_s / ideal:>6.3f}", flush=True)
    zero_latency_cpu()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per call")
    parser.add_argument("--concurrency", type=int, nargs="+", help="default: 1 8 32 64; 64 with --vs-curator")
    parser.add_argument("--rounds", type=int, default=6, help="problems per slot: concurrency x rounds")
    parser.add_argument("--vs-curator", action="store_true", help="curator and distill side by side")
    parser.add_argument("--repeat", type=int, default=2, help="--vs-curator: runs of each, interleaved")
    parser.add_argument("--ideal-concurrency", type=int, default=256, help="--vs-curator: distill's ratio to ideal")
    parser.add_argument("--ideal-latency", type=float, default=2.0, help="--vs-curator: seconds per call there")
    parser.add_argument("--curator-python", default=str(CURATOR_PYTHON), help="the interpreter that has curator")
    args = parser.parse_args()
    args.concurrency = args.concurrency or ([64] if args.vs_curator else [1, 8, 32, 64])
    run_distill(8, 4, 0.0)  # warm-up: imports, math-verify's first parse
    (vs_curator if args.vs_curator else sweep)(args)


if __name__ == "__main__":
    main()
