"""What a reader yields: problem records, located errors, and the per-record checks (hash, placeholder)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# Shorter than this cannot be a problem statement ("Evaluate $\log_264$." is real, at 20 chars and 2 words).
MIN_QUESTION_CHARS = 12
MIN_QUESTION_WORDS = 2

_NOT_AVAILABLE = re.compile(
    r"\b(content|text|question|problem|image|figure)\s+(is\s+)?"
    r"(not\s+(visible|available|shown|provided|legible|included|extracted)|missing|unavailable|omitted|illegible)"
    r"|\b(not\s+visible|illegible|unreadable|placeholder|to be (added|transcribed)|tbd)\b",
    re.IGNORECASE,
)
_LABEL_ONLY = re.compile(r"^\s*(question|problem|q|#)\s*#?\s*\d+\s*[.:)\]]?\s*$", re.IGNORECASE)
_FIGURE_ONLY = re.compile(
    r"\b(see|refer to|in|use)\s+(the\s+)?(figure|diagram|image|picture|graph)\b|\[(figure|image|diagram)\]",
    re.IGNORECASE,
)
# A figure reference makes a question a placeholder only when there is little else in it.
FIGURE_ONLY_MAX_WORDS = 8


@dataclass
class ProblemRecord:
    """One problem as read from a file, before it meets the store."""

    natural_key: str
    question: str | None
    answer: str
    path: str
    locator: str  # where in the file: "section/question_3", "line 12"
    year: int | None = None
    section: str | None = None
    question_id: str | None = None
    subject: str | None = None
    level: int | None = None
    solution: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"{self.path}: {self.locator}"


class IngestError(ValueError):
    """Bad input, located: the file, the record or line, and the field."""

    def __init__(self, path: str, locator: str, field: str, message: str, raw: str | None = None):
        self.path, self.locator, self.field, self.message, self.raw = path, locator, field, message, raw
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.path]
        if self.locator:
            where.append(self.locator)
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}"


def normalise_question(text: str) -> str:
    """The form duplicates are detected on: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def question_hash(text: str | None) -> str:
    return hashlib.sha256(normalise_question(text or "").encode()).hexdigest()


def placeholder_reason(question: str | None) -> str | None:
    """Why this question text is a placeholder rather than a problem, or None when it is real."""
    if question is None or not question.strip():
        return "question text missing"
    text = question.strip()
    if _LABEL_ONLY.match(text):
        return f"only a question label: {text!r}"
    match = _NOT_AVAILABLE.search(text)
    if match:
        return f"text marked as not available ({match.group(0)!r}): {text[:80]!r}"
    words = text.split()
    if _FIGURE_ONLY.search(text) and len(words) <= FIGURE_ONLY_MAX_WORDS:
        return f"refers to a figure with almost no text: {text!r}"
    if len(text) < MIN_QUESTION_CHARS or len(words) < MIN_QUESTION_WORDS:
        return f"text too short ({len(text)} chars, {len(words)} words): {text!r}"
    return None


# Control characters refused in a question or answer: all of Unicode's Cc except tab, newline and CR.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A JSON string with "\frac" or "\begin" (one backslash) decodes to a form feed or backspace + "rac"/"egin".
_LATEX_ESCAPE_HINT = {"\f": "\\f", "\b": "\\b"}
_CONTROL_NAMES = {0x00: "NUL", 0x08: "backspace", 0x0B: "vertical tab", 0x0C: "form feed", 0x1B: "escape", 0x7F: "DEL"}


@dataclass(frozen=True)
class IngestLimits:
    """Longest question and answer a record may have (characters); longer ones are refused."""

    max_question_chars: int = 20_000
    max_answer_chars: int = 1_000


def limit_error(record: ProblemRecord, limits: IngestLimits) -> IngestError | None:
    """Why this record breaks the ingest limits (control characters, length), or None."""
    for name, value, most in (("question", record.question, limits.max_question_chars),
                              ("answer", record.answer, limits.max_answer_chars)):
        if value is None:
            continue
        control = _CONTROL.search(value)
        if control:
            char = control.group(0)
            label = _CONTROL_NAMES.get(ord(char), "control character")
            hint = ""
            if char in _LATEX_ESCAPE_HINT:
                hint = (f" (a LaTeX command written with one backslash in JSON? {_LATEX_ESCAPE_HINT[char]}... "
                        "decodes to this character; write two backslashes)")
            return IngestError(
                record.path, record.locator, name,
                f"control character U+{ord(char):04X} ({label}) at position {control.start()}: "
                f"only tab, newline and carriage return are allowed{hint}",
                raw=value[:500],
            )
        if len(value) > most:
            return IngestError(
                record.path, record.locator, name,
                f"{len(value):,} characters, over the limit of {most:,} "
                f"(raise it with --max-{name}-chars if this is really one {name})",
                raw=value[:500],
            )
    return None


# -- field checks shared by the readers --------------------------------------------------------------

def require_text(value: Any, path: str, locator: str, name: str, *, optional: bool = False) -> str | None:
    """A string field; ints are accepted losslessly, floats refused (13.10 would become 13.1)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise IngestError(path, locator, name, "missing" if value is None else "empty")
    if isinstance(value, bool):
        raise IngestError(path, locator, name, f"expected text, got a boolean ({value})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise IngestError(
            path, locator, name,
            f"expected text, got the number {value!r}: write it as a string to keep its exact form",
        )
    if not isinstance(value, str):
        raise IngestError(path, locator, name, f"expected text, got {type(value).__name__}")
    return value.strip()


def optional_int(value: Any, path: str, locator: str, name: str, *, low: int, high: int) -> int | None:
    """An integer field given as a number or as digits (MATH-500 levels are strings like "3")."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise IngestError(path, locator, name, f"expected an integer, got {type(value).__name__} {value!r}")
    text = str(value).strip()
    if text.lower().startswith("level "):
        text = text[6:]
    if not re.fullmatch(r"-?\d+", text):
        raise IngestError(path, locator, name, f"expected an integer, got {value!r}")
    number = int(text)
    if not low <= number <= high:
        raise IngestError(path, locator, name, f"expected {low}..{high}, got {number}")
    return number
