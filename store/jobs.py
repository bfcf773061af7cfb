"""Reads and writes of `jobs` (migration 0010): what the service was asked to run and how far each job got."""

from __future__ import annotations

import json
from typing import Any

from distill.store.db import Store
from distill.store.rows import JobRow
from distill.store.writer import insert_returning

FINAL = ("done", "failed", "cancelled")


def add_job(store: Store, kind: str, run_name: str, config: dict[str, Any]) -> int:
    return int(insert_returning(store.cursor(), JobRow(kind=kind, run_name=run_name, config=config, status="queued"),
                                "job_id"))


def update_job(store: Store, job_id: int, **values: Any) -> None:
    """Set columns; `progress` is stored as JSON; `started`/`finished` = True stamp the time."""
    sets, params = [], []
    for column, value in values.items():
        if column in ("started", "finished"):
            sets.append(f"{column}_at = current_timestamp")
            continue
        sets.append(f"{column} = ?")
        params.append(json.dumps(value) if column == "progress" and value is not None else value)
    store.cursor().execute(f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = ?", [*params, job_id])


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "config": json.loads(row["config"]),
            "progress": json.loads(row["progress"]) if row["progress"] else None,
            "log": row["log"].split("\n") if row["log"] else []}


def job(store: Store, job_id: int) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM jobs WHERE job_id = ?", [job_id])
    return _decoded(rows[0]) if rows else None


def jobs(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    return [_decoded(r) for r in store.query("SELECT * FROM jobs ORDER BY job_id DESC LIMIT ?", [limit])]


def unfinished_jobs(store: Store) -> list[dict[str, Any]]:
    """Jobs queued or running when the service stopped, oldest first: the service resumes them."""
    return [_decoded(r) for r in store.query(
        "SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY job_id")]


def latest_study_config(store: Store, run_name: str) -> dict[str, Any] | None:
    """The config of the newest study job named `run_name`, or None."""
    found = store.scalar("SELECT config FROM jobs WHERE kind = 'study' AND run_name = ? ORDER BY job_id DESC LIMIT 1",
                         [run_name])
    return json.loads(found)["config"] if found else None
