"""Ingest of problem sets (O'Bryan JSON, MATH-500, generic JSONL/CSV) into the store."""

from distill.store.ingest.load import IngestFailed, IngestReport, ingest
from distill.store.ingest.readers import READERS, FieldMapping
from distill.store.ingest.records import IngestError, IngestLimits, placeholder_reason, question_hash

FORMATS = tuple(READERS)

__all__ = [
    "FORMATS", "FieldMapping", "IngestError", "IngestFailed", "IngestLimits", "IngestReport", "ingest",
    "placeholder_reason", "question_hash",
]
