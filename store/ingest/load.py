"""Ingest problem files into the store: read and check everything first, then write in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from distill.store.db import Store
from distill.store.ingest.readers import READERS, FieldMapping
from distill.store.ingest.records import (
    IngestError,
    IngestLimits,
    ProblemRecord,
    limit_error,
    placeholder_reason,
    question_hash,
)
from distill.store.manifest import distill_version
from distill.store.rows_ingest import IngestRejectRow, IngestRow, ProblemRow, ProblemUpdateRow, SourceRow
from distill.store.writer import insert

# Fields of a problem that a re-ingest compares; a difference is an update, recorded field by field.
COMPARED_FIELDS = ("question", "answer", "solution", "year", "section", "question_id", "subject", "level", "metadata")
MAX_ERRORS_SHOWN = 20


class IngestFailed(Exception):
    """Bad input without --skip-invalid: nothing was written."""

    def __init__(self, errors: list[IngestError]):
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:MAX_ERRORS_SHOWN])
        more = f"\n  ... and {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
        super().__init__(
            f"{len(errors)} invalid record(s); nothing was written "
            f"(fix them, or pass --skip-invalid to record them as rejects):\n{shown}{more}"
        )


@dataclass
class IngestReport:
    ingest_id: int
    source: str
    files: list[dict[str, Any]]
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    placeholders: int = 0
    duplicates: int = 0
    rejects: list[IngestError] = field(default_factory=list)
    updates: list[ProblemUpdateRow] = field(default_factory=list)


def ingest(
    store: Store,
    path: str | Path,
    fmt: str,
    source: str | None = None,
    mapping: FieldMapping | None = None,
    skip_invalid: bool = False,
    limits: IngestLimits | None = None,
) -> IngestReport:
    """Read `path` (a file or a folder of them) in `fmt` into `store` under `source` (default: the format)."""
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {sorted(READERS)}")
    mapping = mapping or FieldMapping()
    limits = limits or IngestLimits()
    source = source or fmt
    started = dt.datetime.now()
    records, errors, files = _read_all(Path(path), fmt, mapping, limits)
    if errors and not skip_invalid:
        raise IngestFailed(errors)
    known_format = store.scalar("SELECT format FROM sources WHERE name = ?", [source])
    if known_format is not None and known_format != fmt:
        raise ValueError(
            f"source {source!r} was ingested as format {known_format!r}, not {fmt!r}: choose another --source"
        )
    with store.transaction() as tx:
        ingest_id = tx.execute("SELECT nextval('ingest_id_seq')").fetchone()[0]
        report = IngestReport(ingest_id=ingest_id, source=source, files=files, rejects=errors)
        if known_format is None:
            insert(tx, SourceRow(name=source, format=fmt))
        _write_problems(tx, source, ingest_id, records, report)
        report.duplicates = _relink_duplicates(tx)
        insert(tx, *(IngestRejectRow(source=source, path=e.path, locator=e.locator or "(file)", field=e.field,
                                     reason=e.message, raw=e.raw, ingest_id=ingest_id) for e in errors))
        insert(tx, IngestRow(
            ingest_id=ingest_id, source=source, format=fmt, path=str(path), files=files,
            options={"mapping": asdict(mapping), "skip_invalid": skip_invalid, "limits": asdict(limits)},
            inserted=report.inserted, updated=report.updated, unchanged=report.unchanged, rejected=len(errors),
            distill_version=distill_version(), started_at=started))
        tx.execute("UPDATE sources SET last_ingest_id = ? WHERE name = ?", [ingest_id, source])
    return report


def _files(path: Path, fmt: str) -> list[Path]:
    suffixes = READERS[fmt][1]
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        if not found:
            raise IngestError(str(path), "", "", f"no {'/'.join(suffixes)} files in this folder")
        return found
    raise IngestError(str(path), "", "", "no such file or folder")


def _read_all(path: Path, fmt: str, mapping: FieldMapping, limits: IngestLimits):
    reader = READERS[fmt][0]
    records: list[ProblemRecord] = []
    errors: list[IngestError] = []
    files: list[dict[str, Any]] = []
    first_seen: dict[str, str] = {}
    for file in _files(path, fmt):
        info = {"path": str(file), "sha256": hashlib.sha256(file.read_bytes()).hexdigest(), "records": 0}
        files.append(info)
        try:
            items = list(reader(file, mapping))
        except IngestError as exc:
            exc.locator = exc.locator or "(file)"
            errors.append(exc)
            continue
        for item in items:
            if isinstance(item, IngestError):
                errors.append(item)
            elif (refused := limit_error(item, limits)) is not None:
                errors.append(refused)
            elif item.natural_key in first_seen:
                errors.append(IngestError(item.path, item.locator, mapping.id or "id",
                                          f"id {item.natural_key!r} repeats {first_seen[item.natural_key]}"))
            else:
                first_seen[item.natural_key] = item.origin
                records.append(item)
                info["records"] += 1
    return records, errors, files


def _row(record: ProblemRecord, source: str, ingest_id: int) -> ProblemRow:
    """The record's row; `ingest_order` is set when the problem is new."""
    reason = placeholder_reason(record.question)
    return ProblemRow(
        problem_id=f"{source}/{record.natural_key}", source=source, natural_key=record.natural_key, year=record.year,
        section=record.section, question_id=record.question_id, subject=record.subject, level=record.level,
        question=record.question, answer=record.answer, solution=record.solution,
        question_hash=question_hash(record.question), status="placeholder" if reason else "ok", status_reason=reason,
        metadata=json.dumps(record.metadata, ensure_ascii=False, sort_keys=True) if record.metadata else None,
        origin=record.origin, ingest_order=0, ingest_id=ingest_id)


def _same(field_name: str, old: Any, new: Any) -> bool:
    if field_name == "metadata":
        return (json.loads(old) if old else {}) == (json.loads(new) if new else {})
    return old == new


def _write_problems(tx, source: str, ingest_id: int, records: list[ProblemRecord], report: IngestReport) -> None:
    columns = ", ".join(("problem_id", *COMPARED_FIELDS))
    existing = {r[0]: dict(zip(("problem_id", *COMPARED_FIELDS), r, strict=True))
                for r in tx.execute(f"SELECT {columns} FROM problems WHERE source = ?", [source]).fetchall()}
    order = tx.execute("SELECT coalesce(max(ingest_order), 0) FROM problems").fetchone()[0]
    new_rows = []
    updated_columns = (*COMPARED_FIELDS, "question_hash", "status", "status_reason", "origin")
    for record in records:
        row = _row(record, source, ingest_id)
        report.placeholders += row.status == "placeholder"
        old = existing.get(row.problem_id)
        if old is None:
            order += 1
            new_rows.append(replace(row, ingest_order=order))
            continue
        changed = [f for f in COMPARED_FIELDS if not _same(f, old[f], getattr(row, f))]
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
        sets = ", ".join(f"{c} = ?" for c in updated_columns)
        tx.execute(
            f"UPDATE problems SET {sets}, updated_ingest_id = ?, updated_at = current_timestamp WHERE problem_id = ?",
            [*(getattr(row, c) for c in updated_columns), ingest_id, row.problem_id],
        )
        report.updates += [ProblemUpdateRow(problem_id=row.problem_id, ingest_id=ingest_id, field=name,
                                            old_value=_text(old[name]), new_value=_text(getattr(row, name)))
                           for name in changed]
    insert(tx, *report.updates)
    report.inserted = insert(tx, *new_rows)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _relink_duplicates(tx) -> int:
    """Point every real problem at the first occurrence of its normalised text; returns the duplicate count."""
    tx.execute(
        """
        UPDATE problems AS p SET duplicate_of = f.first_id
        FROM (
            SELECT a.problem_id, CASE WHEN a.status = 'ok' THEN nullif(o.first_id, a.problem_id) END AS first_id
            FROM problems AS a
            LEFT JOIN (
                SELECT question_hash, arg_min(problem_id, ingest_order) AS first_id
                FROM problems WHERE status = 'ok' GROUP BY question_hash
            ) AS o USING (question_hash)
        ) AS f
        WHERE p.problem_id = f.problem_id AND p.duplicate_of IS DISTINCT FROM f.first_id
        """
    )
    return tx.execute("SELECT count(*) FROM problems WHERE duplicate_of IS NOT NULL").fetchone()[0]
