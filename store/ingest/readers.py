"""Readers for the problem-set formats. Each yields ProblemRecord or IngestError per record; a file that
cannot be read at all raises IngestError."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.store.ingest.records import IngestError, ProblemRecord, optional_int, require_text

Item = ProblemRecord | IngestError
YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20|21)\d{2})(?!\d)")
MAPPED_COLUMNS = ("year", "section", "subject", "level", "solution")


@dataclass(frozen=True)
class FieldMapping:
    """Which columns of a generic JSONL/CSV file hold the question, answer and id."""

    question: str = "question"
    answer: str = "answer"
    id: str | None = None  # None: use an "id" column when there is one, else the row number


def read_text(path: Path) -> str:
    """The file as UTF-8 text; empty and non-UTF-8 files are errors naming the place."""
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(str(path), "", "", "file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            str(path), f"line {line}", "", f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of repeated keys silently; a repeated key is an error here."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice in one object (one of them would be lost)")
        result[key] = value
    return result


def _json(text: str, path: str, locator: str = "") -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        where = locator or f"line {exc.lineno} column {exc.colno}"
        raise IngestError(path, where, "", f"malformed JSON: {exc.msg}", raw=text[:500]) from exc
    except ValueError as exc:
        raise IngestError(path, locator, "", str(exc), raw=text[:500]) from exc


def read_obryan(path: Path, mapping: FieldMapping) -> Iterator[Item]:
    """`{section: {question_N: {question, answer}}}`, one file per year (the year is in the file name)."""
    name = str(path)
    year_match = YEAR_IN_NAME.search(path.stem)
    if not year_match:
        raise IngestError(name, "", "", "no year in the file name (expected e.g. 2019.json)")
    year = int(year_match[1])
    document = _json(read_text(path), name)
    if not isinstance(document, dict):
        raise IngestError(name, "", "", f"expected an object of sections, got {type(document).__name__}")
    for section, questions in document.items():
        if not isinstance(questions, dict):
            yield IngestError(name, section, "", f"expected an object of questions, got {type(questions).__name__}",
                              raw=json.dumps(questions)[:500])
            continue
        for key, record in questions.items():
            locator = f"{section}/{key}"
            try:
                if not isinstance(record, dict):
                    raise IngestError(name, locator, "", f"expected an object, got {type(record).__name__}")
                answer = require_text(record.get("answer"), name, locator, "answer")
                question = require_text(record.get("question"), name, locator, "question", optional=True)
            except IngestError as exc:
                exc.raw = json.dumps(record, ensure_ascii=False)[:500]
                yield exc
                continue
            extra = {k: v for k, v in record.items() if k not in ("question", "answer")}
            yield ProblemRecord(
                natural_key=f"{year}/{section}/{key}", question=question, answer=answer,
                path=name, locator=locator, year=year, section=section, question_id=key, metadata=extra,
            )


def _json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any] | IngestError]]:
    name = str(path)
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        locator = f"line {number}"
        try:
            row = _json(line, name, locator)
            if not isinstance(row, dict):
                raise IngestError(name, locator, "", f"expected an object, got {type(row).__name__}", raw=line[:500])
        except IngestError as exc:
            yield locator, exc
            continue
        yield locator, row


def read_math500(path: Path, mapping: FieldMapping) -> Iterator[Item]:
    """MATH-500 JSONL: `unique_id, problem, answer, subject, level, solution`."""
    name = str(path)
    for locator, row in _json_lines(path):
        if isinstance(row, IngestError):
            yield row
            continue
        try:
            unique_id = require_text(row.get("unique_id"), name, locator, "unique_id")
            answer = require_text(row.get("answer"), name, locator, "answer")
            problem = require_text(row.get("problem"), name, locator, "problem", optional=True)
            subject = require_text(row.get("subject"), name, locator, "subject", optional=True)
            solution = require_text(row.get("solution"), name, locator, "solution", optional=True)
            level = optional_int(row.get("level"), name, locator, "level", low=1, high=5)
        except IngestError as exc:
            exc.raw = json.dumps(row, ensure_ascii=False)[:500]
            yield exc
            continue
        known = {"unique_id", "problem", "answer", "subject", "level", "solution"}
        yield ProblemRecord(
            natural_key=unique_id, question=problem, answer=answer, path=name, locator=locator,
            subject=subject, level=level, solution=solution,
            metadata={k: v for k, v in row.items() if k not in known},
        )


def _generic(name: str, locator: str, row_number: int, row: dict[str, Any], mapping: FieldMapping) -> Item:
    """One row of a generic file, mapped by `mapping`; other columns become metadata."""
    try:
        id_field = mapping.id or ("id" if "id" in row else None)
        key = require_text(row.get(id_field), name, locator, id_field) if id_field else f"row-{row_number}"
        answer = require_text(row.get(mapping.answer), name, locator, mapping.answer)
        question = require_text(row.get(mapping.question), name, locator, mapping.question, optional=True)
        year = optional_int(row.get("year"), name, locator, "year", low=1000, high=9999)
        level = optional_int(row.get("level"), name, locator, "level", low=0, high=100)
        texts = {c: require_text(row.get(c), name, locator, c, optional=True)
                 for c in ("section", "subject", "solution")}
    except IngestError as exc:
        exc.raw = json.dumps(row, ensure_ascii=False, default=str)[:500]
        return exc
    used = {mapping.question, mapping.answer, id_field, *MAPPED_COLUMNS}
    return ProblemRecord(
        natural_key=key, question=question, answer=answer, path=name, locator=locator,
        year=year, level=level, section=texts["section"], subject=texts["subject"], solution=texts["solution"],
        question_id=key if id_field else None,
        metadata={k: v for k, v in row.items() if k not in used},
    )


def read_jsonl(path: Path, mapping: FieldMapping) -> Iterator[Item]:
    """Generic JSONL with a field mapping."""
    for row_number, (locator, row) in enumerate(_json_lines(path), start=1):
        yield row if isinstance(row, IngestError) else _generic(str(path), locator, row_number, row, mapping)


def read_csv(path: Path, mapping: FieldMapping) -> Iterator[Item]:
    """Generic CSV with a header row and a field mapping."""
    name = str(path)
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    header = reader.fieldnames or []
    for required in (mapping.question, mapping.answer, *([mapping.id] if mapping.id else [])):
        if required not in header:
            raise IngestError(name, "line 1 (header)", required, f"no such column; the header has {header}")
    for row_number, row in enumerate(reader, start=1):
        locator = f"line {reader.line_num}"
        if None in row:
            yield IngestError(name, locator, "", f"{len(header) + len(row[None])} fields, the header has {len(header)}")
            continue
        if any(value is None for value in row.values()):
            yield IngestError(name, locator, "", f"fewer fields than the header's {len(header)}")
            continue
        yield _generic(name, locator, row_number, row, mapping)


READERS: dict[str, tuple[Callable[[Path, FieldMapping], Iterator[Item]], tuple[str, ...]]] = {
    "obryan": (read_obryan, (".json",)),
    "math500": (read_math500, (".jsonl",)),
    "jsonl": (read_jsonl, (".jsonl", ".json")),
    "csv": (read_csv, (".csv",)),
}
