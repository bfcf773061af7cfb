"""Typed rows of the ingest tables (migration 0001): sources, ingests, problems, their updates and rejects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from distill.store.row_base import Row, row


@row
class SourceRow(Row):
    TABLE = "sources"
    KEY = ("name",)
    ON_CONFLICT = "error"

    name: str
    format: str
    last_ingest_id: int | None = None


@row
class IngestRow(Row):
    """One `distill ingest` call: what was read, with which options, and what it changed."""

    TABLE = "ingests"
    KEY = ("ingest_id",)
    ON_CONFLICT = "error"

    ingest_id: int
    source: str
    format: str
    path: str
    files: list[dict[str, Any]]
    options: dict[str, Any]
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    distill_version: str
    started_at: dt.datetime


@row
class ProblemRow(Row):
    """A problem as read from its file; `metadata` is its JSON text (keys sorted: a re-ingest compares it)."""

    TABLE = "problems"
    KEY = ("problem_id",)
    ON_CONFLICT = "error"

    problem_id: str
    source: str
    natural_key: str
    year: int | None
    section: str | None
    question_id: str | None
    subject: str | None
    level: int | None
    question: str | None
    answer: str
    solution: str | None
    question_hash: str
    status: str
    status_reason: str | None
    metadata: str | None
    origin: str
    ingest_order: int
    ingest_id: int
    duplicate_of: str | None = None
    updated_ingest_id: int | None = None
    updated_at: dt.datetime | None = None


@row
class ProblemUpdateRow(Row):
    """One field a re-ingest changed."""

    TABLE = "problem_updates"

    problem_id: str
    ingest_id: int
    field: str
    old_value: str | None
    new_value: str | None


@row
class IngestRejectRow(Row):
    """A record refused by a `--skip-invalid` ingest; the latest ingest that saw it replaces it."""

    TABLE = "ingest_rejects"
    KEY = ("source", "path", "locator", "field")
    ON_CONFLICT = "replace"

    source: str
    path: str
    locator: str
    field: str
    reason: str
    raw: str | None
    ingest_id: int


INGEST_ROWS: tuple[type[Row], ...] = (SourceRow, IngestRow, ProblemRow, ProblemUpdateRow, IngestRejectRow)
