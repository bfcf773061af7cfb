"""Reads and writes of `student_exports` (migration 0009): every fused or PEFT export of a kept adapter."""

from __future__ import annotations

import json
from typing import Any

from distill.store.db import Store


def record_student_export(store: Store, row: dict[str, Any]) -> int:
    row = {**row, "files": json.dumps(row["files"]), "details": json.dumps(row["details"], default=str)}
    with store.transaction() as tx:
        return int(tx.execute(f"INSERT INTO student_exports ({', '.join(row)}) VALUES "
                              f"({', '.join('?' for _ in row)}) RETURNING student_export_id",
                              list(row.values())).fetchone()[0])


def student_exports(store: Store, run_name: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE run_name = ?", [run_name]) if run_name else ("", [])
    rows = store.query(f"SELECT * FROM student_exports {where} ORDER BY student_export_id", params)
    return [{**r, "files": json.loads(r["files"]), "details": json.loads(r["details"])} for r in rows]
