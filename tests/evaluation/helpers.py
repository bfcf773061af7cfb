"""Stored evaluations made by hand for the evaluation tests: an evaluation row, and answers graded by the real
rule (or with a verdict forced, to craft exact aggregates)."""

from __future__ import annotations

from typing import Any

from evaluation.grading import answer_row
from store import Store
from store import evaluation as db


def make_evaluation(store: Store, run: str, label: str, kind: str, seed: int = 0, *, level: str | None = None,
                    training_run: str | None = None, split: str = "test") -> int:
    return db.create_evaluation(store, {
        "run_name": run, "split": split, "split_seed": 0, "label": label, "kind": kind, "training_run": training_run,
        "level": level, "seed": seed, "model": "crafted", "settings": {"max_tokens": 64}, "manifest": {}})


def add_answer(store: Store, evaluation_id: int, problem_id: str, response: str, *, truncated: bool = False,
               tokens: int | None = None, verdict: str | None = None) -> dict[str, Any]:
    """Store one answer graded by the rule against the problem's gold (or with `verdict` forced)."""
    gold = store.scalar("SELECT answer FROM problems WHERE problem_id = ?", [problem_id])
    row = {"evaluation_id": evaluation_id, "problem_id": problem_id,
           **answer_row(response, gold, truncated=truncated), "finish_reason": "length" if truncated else "stop",
           "prompt_tokens": 10, "tokens": tokens if tokens is not None else len(response.split()),
           "latency_ms": 1.0, "batch_size": 1, "call_key": None}
    if verdict is not None:
        row["rule_verdict"] = verdict
    db.insert_items(store, [row])
    return row


def boxed(value: str) -> str:
    return f"Some steps.\nAnswer: \\boxed{{{value}}}"
