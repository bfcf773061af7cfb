"""Reads and writes of `student_exports` (migration 0009): every fused or PEFT export of a kept adapter."""

from __future__ import annotations

import json
from typing import Any

from distill.store.db import Store
from distill.store.rows_training import StudentExportRow
from distill.store.writer import insert_returning


def record_student_export(store: Store, row: StudentExportRow) -> int:
    return int(insert_returning(store.cursor(), row, "student_export_id"))


def student_exports(store: Store, run_name: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE run_name = ?", [run_name]) if run_name else ("", [])
    rows = store.query(f"SELECT * FROM student_exports {where} ORDER BY student_export_id", params)
    return [{**r, "files": json.loads(r["files"]), "details": json.loads(r["details"])} for r in rows]
