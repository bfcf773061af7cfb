"""Reads and writes of the evaluation tables (migration 0005): evaluations, their answers (eval_items) and judge
verdicts (eval_judgements). No MLX and no LLM here: `evaluation/` composes these with generation and grading."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from distill.store.db import Store, StoreError
from distill.store.rows import EvalItemRow, EvaluationRow
from distill.store.writer import insert_returning, write_rows


# -- problem sets ----------------------------------------------------------------------------------------
def test_split_problems(store: Store, run_name: str, split_seed: int = 0) -> list[dict[str, Any]]:
    """The held-out test problems of a run's split set, one per duplicate cluster (a repeated question would
    count twice), with question and gold answer."""
    if not store.scalar("SELECT count(*) FROM split_sets WHERE run_name = ? AND split_seed = ?",
                        [run_name, split_seed]):
        raise StoreError(f"run {run_name!r} has no split set with seed {split_seed}: "
                         f"run `distill split --run {run_name}` first")
    return store.query("SELECT problem_id, question, answer FROM test_problems WHERE run_name = ? AND split_seed = ? "
                       "AND representative ORDER BY problem_id", [run_name, split_seed])


def math500_problems(store: Store) -> list[dict[str, Any]]:
    """Active first-occurrence problems of every source ingested with format math500."""
    return store.query("SELECT p.problem_id, p.question, p.answer FROM active_problems p "
                       "JOIN sources s ON s.name = p.source WHERE s.format = 'math500' AND p.duplicate_of IS NULL "
                       "ORDER BY p.problem_id")


def training_problem_ids(store: Store, training_run: str, split_seed: int) -> set[str]:
    """Problems a training run learned from or validated on (its train and valid splits)."""
    rows = store.query("SELECT problem_id FROM splits WHERE run_name = ? AND split_seed = ? "
                       "AND split IN ('train', 'valid')", [training_run, split_seed])
    return {r["problem_id"] for r in rows}


def adapters_for(store: Store, training_run: str, split_seed: int, level: str | None = None,
                 seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Kept (best-validation) adapters of a training run, by level and seed."""
    rows = store.query("SELECT * FROM adapters WHERE run_name = ? AND split_seed = ? ORDER BY level, seed",
                       [training_run, split_seed])
    return [r for r in rows if (level is None or r["level"] == level) and (seeds is None or r["seed"] in seeds)]


# -- evaluations -----------------------------------------------------------------------------------------
def find_evaluation(store: Store, run_name: str, split: str, split_seed: int, label: str, seed: int
                    ) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM evaluations WHERE run_name = ? AND split = ? AND split_seed = ? AND label = ? "
                       "AND seed = ?", [run_name, split, split_seed, label, seed])
    return _decoded(rows[0]) if rows else None


def create_evaluation(store: Store, row: EvaluationRow) -> int:
    return int(insert_returning(store.cursor(), row, "evaluation_id"))


def restart_evaluation(store: Store, evaluation_id: int, fields: dict[str, Any]) -> int:
    """Drop an evaluation's answers and judge verdicts and store its new settings; returns answers dropped."""
    fields = {k: json.dumps(v, default=str) if k in ("settings", "manifest") else v for k, v in fields.items()}
    with store.transaction() as tx:
        dropped = tx.execute("DELETE FROM eval_items WHERE evaluation_id = ? RETURNING problem_id",
                             [evaluation_id]).fetchall()
        tx.execute("DELETE FROM eval_judgements WHERE evaluation_id = ?", [evaluation_id])
        sets = ", ".join(f"{k} = ?" for k in fields)
        tx.execute(f"UPDATE evaluations SET {sets}, generation_seconds = NULL, updated_at = current_timestamp "
                   "WHERE evaluation_id = ?", [*fields.values(), evaluation_id])
    return len(dropped)


def add_generation_seconds(store: Store, evaluation_id: int, seconds: float) -> None:
    store.cursor().execute("UPDATE evaluations SET generation_seconds = coalesce(generation_seconds, 0) + ?, "
                           "updated_at = current_timestamp WHERE evaluation_id = ?", [seconds, evaluation_id])


def evaluations_of(store: Store, run_name: str, split: str | None = None) -> list[dict[str, Any]]:
    where, params = ("AND split = ?", [run_name, split]) if split else ("", [run_name])
    rows = store.query(f"SELECT * FROM evaluations WHERE run_name = ? {where} ORDER BY evaluation_id", params)
    return [_decoded(r) for r in rows]


# -- answers ---------------------------------------------------------------------------------------------
def stored_problem_ids(store: Store, evaluation_id: int) -> set[str]:
    rows = store.query("SELECT problem_id FROM eval_items WHERE evaluation_id = ?", [evaluation_id])
    return {r["problem_id"] for r in rows}


def insert_items(store: Store, rows: Sequence[EvalItemRow]) -> int:
    """Answers of one MLX batch, in one transaction."""
    write_rows(store.cursor(), rows)
    return len(rows)


def items_to_grade(store: Store, evaluation_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Every stored answer of these evaluations with its gold answer, for the rule to grade again."""
    return store.query(
        "SELECT i.evaluation_id, i.problem_id, i.response, i.reasoning, i.answer, i.answer_method, i.rule_verdict, "
        "i.rule_reason, i.rule_compared, p.answer AS gold, p.question "
        "FROM eval_items i JOIN problems p USING (problem_id) WHERE list_contains(?, i.evaluation_id)",
        [list(evaluation_ids)])


def update_rule_verdicts(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    with store.transaction() as tx:
        for row in rows:
            tx.execute("UPDATE eval_items SET answer = ?, answer_method = ?, rule_verdict = ?, rule_reason = ?, "
                       "rule_compared = ?, graded_at = current_timestamp WHERE evaluation_id = ? AND problem_id = ?",
                       [row["answer"], row["answer_method"], row["rule_verdict"], row["rule_reason"],
                        row["rule_compared"], row["evaluation_id"], row["problem_id"]])


# -- judge -----------------------------------------------------------------------------------------------
def undecided_items(store: Store, evaluation_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Answers the rule could not decide (never truncated ones: those are not graded), with question and gold."""
    return store.query(
        "SELECT i.evaluation_id, i.problem_id, i.response, i.answer, p.question, p.answer AS gold "
        "FROM eval_items i JOIN problems p USING (problem_id) "
        "WHERE list_contains(?, i.evaluation_id) AND i.rule_verdict = 'undecided' AND NOT i.truncated "
        "ORDER BY i.evaluation_id, i.problem_id", [list(evaluation_ids)])


def stored_judgement_keys(store: Store, evaluation_ids: Iterable[int]) -> set[str]:
    rows = store.query("SELECT call_key FROM eval_judgements WHERE list_contains(?, evaluation_id)",
                       [list(evaluation_ids)])
    return {r["call_key"] for r in rows}


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **{c: json.loads(row[c]) if isinstance(row[c], str) else row[c] for c in ("settings", "manifest")}}
