"""Reads of the levels stage's tables (its rows are store.rows models, written by store.writer)."""

from __future__ import annotations

from typing import Any

from distill.store.db import Store


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


def level_tokens_spent(store: Store, corpus_run: str) -> int:
    return int(store.scalar("SELECT coalesce(sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)), 0)"
                            " FROM level_attempts WHERE run_name = ?", [corpus_run]))
