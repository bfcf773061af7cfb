"""Reads of the corpus builder's tables, and the statements that write them (run by store.writer)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from distill.store.db import Store, StoreError, insert_statement
from distill.store.writer import Statement

TERMINAL = ("accepted", "abstained")


def register_run(store: Store, run_name: str, kind: str, manifest: dict[str, Any], identity: dict[str, Any]) -> bool:
    """Create the run, or check that a rerun has the same identity (models, prompts, params); True if new.

    `identity` is the part of the configuration that decides results; it is stored in the manifest as
    `identity`, and a rerun that differs in it is refused rather than silently mixed into the same run."""
    row = store.query("SELECT kind, manifest FROM runs WHERE run_name = ?", [run_name])
    if not row:
        store.insert("runs", {"run_name": run_name, "kind": kind, "status": "running",
                              "manifest": json.dumps({**manifest, "identity": identity}, default=str)})
        return True
    if row[0]["kind"] != kind:
        raise StoreError(f"run {run_name!r} is a {row[0]['kind']} run, not a {kind} run: choose another name")
    stored = json.loads(row[0]["manifest"]).get("identity", {})
    current = json.loads(json.dumps(identity, default=str))
    changed = sorted(k for k in stored.keys() | current.keys() if stored.get(k) != current.get(k))
    if changed:
        details = "; ".join(f"{k}: {stored.get(k)!r} -> {current.get(k)!r}" for k in changed)
        raise StoreError(
            f"run {run_name!r} exists with a different configuration ({details}). Resuming would mix results: "
            "use a new --run name, or the original settings."
        )
    set_run_status(store, run_name, "running")
    return False


def set_run_status(store: Store, run_name: str, status: str) -> None:
    store.cursor().execute("UPDATE runs SET status = ?, updated_at = current_timestamp WHERE run_name = ?",
                           [status, run_name])


def problems_to_build(store: Store, run_name: str, source: str | None, limit: int | None,
                      include_duplicates: bool, exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The run's problems (active, first occurrences unless asked, none of `exclude`) in ingest order, minus
    finished ones; `limit` counts from the first problem not excluded."""
    where = ["p.status = 'ok'", "NOT list_contains(?, p.problem_id)"]
    params: list[Any] = [list(exclude)]
    if source:
        where.append("p.source = ?")
        params.append(source)
    if not include_duplicates:
        where.append("p.duplicate_of IS NULL")
    limit_sql = f"LIMIT {int(limit)}" if limit else ""
    return store.query(
        f"""
        WITH selected AS (
            SELECT p.problem_id, p.question, p.answer, p.ingest_order FROM problems p
            WHERE {' AND '.join(where)} ORDER BY p.ingest_order {limit_sql}
        )
        SELECT s.problem_id, s.question, s.answer FROM selected s
        LEFT JOIN problem_outcomes o ON o.run_name = ? AND o.problem_id = s.problem_id
        WHERE o.status IS NULL OR o.status NOT IN {TERMINAL}
        ORDER BY s.ingest_order
        """,
        [*params, run_name],
    )


def finished_problem_ids(store: Store, run_name: str) -> set[str]:
    rows = store.query(f"SELECT problem_id FROM problem_outcomes WHERE run_name = ? AND status IN {TERMINAL}",
                       [run_name])
    return {r["problem_id"] for r in rows}


def stored_call_keys(store: Store, run_name: str) -> set[str]:
    """Keys of every stored attempt and verdict of the run: a key outside this set needs no lookup, and its row
    can be inserted without a conflict clause (which costs DuckDB ~3x)."""
    rows = store.query("SELECT call_key AS k FROM attempts WHERE run_name = ? UNION ALL "
                       "SELECT verdict_key FROM verdicts WHERE run_name = ?", [run_name, run_name])
    return {r["k"] for r in rows}


def problems_with_outcomes(store: Store, run_name: str) -> set[str]:
    """Problems that have an outcome row already (a failed one is retried and its outcome replaced)."""
    return {r["problem_id"] for r in store.query("SELECT problem_id FROM problem_outcomes WHERE run_name = ?",
                                                 [run_name])}


def find_attempt(store: Store, call_key: str) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM attempts WHERE call_key = ?", [call_key])
    return rows[0] if rows else None


def find_verdict(store: Store, verdict_key: str) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM verdicts WHERE verdict_key = ?", [verdict_key])
    return rows[0] if rows else None


def insert_attempt(row: dict[str, Any]) -> Statement:
    return insert_statement("attempts", json_fields(row, "params", "messages"))


def insert_verdict(row: dict[str, Any], replay: bool = False) -> Statement:
    """`replay`: the verdict may be stored already (a node replayed after a crash): then nothing changes."""
    return insert_statement("verdicts", json_fields(row, "params", "messages"), "OR IGNORE" if replay else "")


def insert_call_error(row: dict[str, Any]) -> Statement:
    return insert_statement("call_errors", row)


def outcome_statements(run_name: str, problem_id: str, status: str, reason: str | None, attempts: int,
                       corpus_row: dict[str, Any] | None = None, replace: bool = True) -> list[Statement]:
    """The outcome (and for an accepted problem its corpus row), written together in one transaction.
    `replace=False` when the problem has no outcome yet (a plain INSERT is ~3x cheaper than OR REPLACE); a
    corpus row exists only for accepted problems, which are never redone."""
    outcome = {"run_name": run_name, "problem_id": problem_id, "status": status, "reason": reason,
               "attempts": attempts}
    statements = [insert_statement("problem_outcomes", outcome, "OR REPLACE" if replace else "")]
    if corpus_row is not None:
        statements.insert(0, insert_statement("corpus", corpus_row))
    return statements


def tokens_spent(store: Store, run_name: str) -> int:
    return int(store.scalar(
        "SELECT coalesce(sum(t), 0) FROM ("
        " SELECT coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0) AS t FROM attempts WHERE run_name = ?"
        " UNION ALL SELECT coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0) FROM verdicts"
        " WHERE run_name = ? AND judge = 'critic')", [run_name, run_name]))


def resume_summary(store: Store, run_name: str) -> dict[str, int] | None:
    """What a rerun of `run_name` starts from (decided problems, failed ones, attempts and tokens stored), or
    None when the run has nothing stored yet."""
    rows = store.query("SELECT done, accepted, abstained, failed, attempts, tokens FROM run_summary "
                       "WHERE run_name = ?", [run_name])
    if not rows or not (rows[0]["done"] or rows[0]["failed"] or rows[0]["attempts"]):
        return None
    return {k: int(v) for k, v in rows[0].items()}


def json_fields(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: (json.dumps(v, ensure_ascii=False) if k in names and v is not None and not isinstance(v, str) else v)
            for k, v in row.items()}
