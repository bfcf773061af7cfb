"""Reads of the levels stage's tables, and the statements that write them."""

from __future__ import annotations

from typing import Any

from distill.store.corpus import json_fields
from distill.store.db import Store, insert_statement
from distill.store.writer import Statement


def levels_to_build(store: Store, corpus_run: str, count: int = 6, limit: int | None = None) -> list[dict[str, Any]]:
    """Accepted corpus rows of real problems (never placeholders) without their first `count` levels yet."""
    limit_sql = f"LIMIT {int(limit)}" if limit else ""
    return store.query(
        f"""
        WITH selected AS (
            SELECT c.problem_id, p.question, p.answer AS truth, c.answer, c.reasoning, p.ingest_order
            FROM corpus c JOIN problems p USING (problem_id)
            WHERE c.run_name = ? AND p.status = 'ok'
            ORDER BY p.ingest_order {limit_sql}
        )
        SELECT s.problem_id, s.question, s.truth, s.answer, s.reasoning FROM selected s
        WHERE (SELECT count(*) FROM levels l WHERE l.run_name = ? AND l.problem_id = s.problem_id) < {int(count)}
        ORDER BY s.ingest_order
        """,
        [corpus_run, corpus_run],
    )


def problems_with_all_levels(store: Store, corpus_run: str, count: int = 6) -> set[str]:
    rows = store.query("SELECT problem_id FROM levels WHERE run_name = ? GROUP BY problem_id HAVING count(*) >= ?",
                       [corpus_run, count])
    return {r["problem_id"] for r in rows}


def stored_level_keys(store: Store, corpus_run: str) -> set[str]:
    return {r["call_key"] for r in store.query("SELECT call_key FROM level_attempts WHERE run_name = ?",
                                               [corpus_run])}


def find_level_attempt(store: Store, call_key: str) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM level_attempts WHERE call_key = ?", [call_key])
    return rows[0] if rows else None


def insert_level_attempt(row: dict[str, Any]) -> Statement:
    return insert_statement("level_attempts", json_fields(row, "params", "messages"))


def insert_level(row: dict[str, Any], replace: bool = False) -> Statement:
    """`replace` when the level may be stored already (a replayed thread); a plain INSERT is ~3x cheaper."""
    return insert_statement("levels", row, "OR REPLACE" if replace else "")


def stored_levels(store: Store, corpus_run: str) -> set[tuple[str, str]]:
    return {(r["problem_id"], r["level"]) for r in store.query(
        "SELECT problem_id, level FROM levels WHERE run_name = ?", [corpus_run])}


def level_tokens_spent(store: Store, corpus_run: str) -> int:
    return int(store.scalar("SELECT coalesce(sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)), 0)"
                            " FROM level_attempts WHERE run_name = ?", [corpus_run]))
