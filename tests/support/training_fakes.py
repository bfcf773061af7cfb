"""Test doubles for the training stage (tests only): arithmetic problems ingested through the real ingest,
corpus rows written straight into the `corpus` table as if a corpus run had accepted them, and a tiny random
MLX model whose vocabulary covers the exported text.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from distill.agents.student import STUDENT_SYSTEM_PROMPT
from distill.store import Store
from distill.store.ingest import ingest
from distill.store.rows import CorpusRow, OutcomeRow, RunRow
from distill.store.writer import insert

from tests.support.tiny_mlx_model import write_tiny_model

SECTIONS = ("sums", "products", "differences")
WORDS = {"sums": "plus", "products": "times", "differences": "minus"}


def arithmetic_problems(count: int = 60, seed: int = 0) -> list[dict[str, Any]]:
    """`count` distinct problems over three sections, each with its answer and a short worked reasoning."""
    rng = random.Random(seed)
    problems, seen = [], set()
    while len(problems) < count:
        section = SECTIONS[len(problems) % len(SECTIONS)]
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        if (section, a, b) in seen:
            continue
        seen.add((section, a, b))
        value = a + b if section == "sums" else a * b if section == "products" else a - b
        op = WORDS[section]
        problems.append({"id": f"q{len(problems):03d}", "section": section,
                         "question": f"What is {a} {op} {b} ?", "answer": str(value),
                         "reasoning": f"We need {a} {op} {b} . {a} {op} {b} is {value} . So the answer is {value} ."})
    return problems


def ingest_problems(store: Store, tmp_path: Path, problems: list[dict[str, Any]], source: str = "toy",
                    fmt: str = "jsonl") -> None:
    path = tmp_path / f"{source}.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in p.items() if k != "reasoning"}) + "\n" for p in problems))
    ingest(store, path, fmt, source=source)


def add_corpus(store: Store, run_name: str, problems: list[dict[str, Any]], source: str = "toy",
               abstain: set[str] | frozenset[str] = frozenset()) -> None:
    """Corpus rows (accepted) for every problem not in `abstain`; outcome rows for all, as the builder writes."""
    cur = store.cursor()
    if not store.scalar("SELECT count(*) FROM runs WHERE run_name = ?", [run_name]):
        insert(cur, RunRow(run_name=run_name, kind="corpus", status="finished",
                           manifest={"config": {"source": source}}))
    for p in problems:
        pid = f"{source}/{p['id']}"
        status = "abstained" if p["id"] in abstain else "accepted"
        insert(cur, OutcomeRow(run_name=run_name, problem_id=pid, status=status, reason=None, attempts=1))
        if status == "accepted":
            insert(cur, CorpusRow(run_name=run_name, problem_id=pid, attempt=1, call_key=f"k-{pid}",
                                  reasoning=p["reasoning"], content=p["reasoning"], answer=p["answer"],
                                  decided_by="rule"))


def tiny_model_for(path: Path, problems: list[dict[str, Any]], **options: Any) -> Path:
    texts = [STUDENT_SYSTEM_PROMPT, "Answer : \\ boxed { }"]
    texts += [f"{p['question']} {p['reasoning']} {p['answer']}" for p in problems]
    return write_tiny_model(path, texts, **options)
