"""Runs, and reads of the corpus builder's tables (its rows are store.rows models, written by store.writer)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from distill.store.db import Store, StoreError
from distill.store.rows import RunRow
from distill.store.writer import insert

TERMINAL = ("accepted", "abstained")


def register_run(store: Store, run_name: str, kind: str, manifest: dict[str, Any], identity: dict[str, Any]) -> bool:
    """Create the run, or check that a rerun has the same identity (models, prompts, params); True if new.

    `identity` is the part of the configuration that decides results; it is stored in the manifest as
    `identity`, and a rerun that differs in it is refused rather than silently mixed into the same run."""
    row = store.query("SELECT kind, manifest FROM runs WHERE run_name = ?", [run_name])
    if not row:
        insert(store.cursor(), RunRow(run_name=run_name, kind=kind, status="running",
                                      manifest={**manifest, "identity": identity}))
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
