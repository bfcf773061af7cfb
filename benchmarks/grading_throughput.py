"""Answers per second for the rule check (`agents.equivalence.check_answer`) on real DeepSeek-R1 answers.

    .venv/bin/python benchmarks/grading_throughput.py [--passes 5] [--threads 4]

Reads ../shared/data/teacher-traces/obryan_r1_2011_2019.jsonl (or $DISTILL_SHARED_DATA). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from distill.agents.equivalence import check_answer

REPO = Path(__file__).resolve().parents[1]


def traces_path() -> Path:
    data = Path(os.environ.get("DISTILL_SHARED_DATA", REPO.parent / "shared" / "data"))
    return data / "teacher-traces" / "obryan_r1_2011_2019.jsonl"


def timed(pairs: list[tuple[str, str]], threads: int) -> tuple[float, Counter]:
    start = time.perf_counter()
    if threads == 1:
        checks = [check_answer(predicted, gold) for predicted, gold in pairs]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            checks = list(pool.map(lambda pair: check_answer(*pair), pairs))
    return time.perf_counter() - start, Counter(check.verdict.value for check in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5, help="timed passes over the 364 answers")
    parser.add_argument("--threads", type=int, default=4, help="worker threads for the threaded run")
    args = parser.parse_args()
    path = traces_path()
    if not path.exists():
        sys.exit(f"no real traces at {path} (put ../shared/data beside the repo or set DISTILL_SHARED_DATA)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [(row["teacher_answer"], row["true_answer"]) for row in rows]

    cold, verdicts = timed(pairs, threads=1)
    print(f"{len(pairs)} answers, verdicts {dict(verdicts)}")
    print(f"first pass (cold caches): {len(pairs) / cold:8.0f} answers/s  ({1000 * cold / len(pairs):.2f} ms each)")
    warm = [timed(pairs, threads=1)[0] for _ in range(args.passes)]
    best, median = min(warm), sorted(warm)[len(warm) // 2]
    rate, top = len(pairs) / median, len(pairs) / best
    print(f"main thread, {args.passes} passes: {rate:8.0f} answers/s median, {top:.0f} best")
    threaded = sorted(timed(pairs, threads=args.threads)[0] for _ in range(args.passes))[args.passes // 2]
    print(f"{args.threads} threads (GIL-bound):    {len(pairs) / threaded:8.0f} answers/s median")


if __name__ == "__main__":
    main()
