"""Typed rows: one model per table the stages write, its columns derived from its fields, its key and conflict
policy declared beside them. Rows are written by store.writer; a test checks every model against the
migrations (names and nullability)."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, ClassVar, Literal, TypeVar

Conflict = Literal["ignore", "replace", "append"]
R = TypeVar("R", bound="Row")
JSON_COLUMNS = ("params", "messages")


class Row:
    """A row of `TABLE`. On a conflict by `KEY`: `ignore` keeps the stored row (an LLM result is recorded once: the
    idempotency record), `replace` stores the newer one (a decision that may be redone), `append` has no key."""

    __slots__ = ()
    TABLE: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]] = ()
    ON_CONFLICT: ClassVar[Conflict] = "append"

    @classmethod
    @functools.cache
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def values(self) -> list[Any]:
        """Parameters in column order; JSON columns serialised."""
        return [_to_sql(c, getattr(self, c)) for c in self.columns()]

    def key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in self.KEY)

    @classmethod
    def from_record(cls: type[R], record: dict[str, Any]) -> R:
        """The row as read back from the store (columns beyond the model's, such as created_at, are dropped)."""
        return cls(**{c: _from_sql(c, record[c]) for c in cls.columns()})


def _to_sql(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS and value is not None and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return value


def _from_sql(column: str, value: Any) -> Any:
    return json.loads(value) if column in JSON_COLUMNS and isinstance(value, str) else value


row = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)


@row
class UsageRow(Row):
    """The columns every stored LLM result carries (see graphs.calls.usage)."""

    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    retries: int = 0

    @property
    def tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


# -- the corpus loop (migration 0002) -------------------------------------------------------------------------
@row
class AttemptRow(UsageRow):
    TABLE = "attempts"
    KEY = ("call_key",)
    ON_CONFLICT = "ignore"

    call_key: str
    run_name: str
    problem_id: str
    attempt: int
    model: str
    base_url: str
    params: dict[str, Any]
    prompt_version: str
    messages: list[dict[str, Any]]
    status: str
    content: str | None
    reasoning: str | None
    reasoning_source: str | None
    answer: str | None
    answer_method: str | None
    answer_source: str | None


@row
class VerdictRow(UsageRow):
    """A rule verdict (no model, no call) or a critic verdict on one attempt."""

    TABLE = "verdicts"
    KEY = ("verdict_key",)
    ON_CONFLICT = "ignore"

    verdict_key: str
    run_name: str
    problem_id: str
    attempt: int
    judge: str
    verdict: str
    decided: bool
    reason: str | None = None
    compared: str | None = None
    raw: str | None = None
    model: str | None = None
    params: dict[str, Any] | None = None
    prompt_version: str | None = None
    messages: list[dict[str, Any]] | None = None


@row
class OutcomeRow(Row):
    """How a problem ended; a failed one is redone by the next run, and its outcome replaced."""

    TABLE = "problem_outcomes"
    KEY = ("run_name", "problem_id")
    ON_CONFLICT = "replace"

    run_name: str
    problem_id: str
    status: str
    reason: str | None
    attempts: int


@row
class CorpusRow(Row):
    """The accepted attempt of a problem (accepted problems are never redone)."""

    TABLE = "corpus"
    KEY = ("run_name", "problem_id")
    ON_CONFLICT = "ignore"

    run_name: str
    problem_id: str
    attempt: int
    call_key: str
    reasoning: str
    content: str
    answer: str
    decided_by: str


@row
class CallErrorRow(Row):
    """A request that failed for good: kept for diagnosis, never a cache."""

    TABLE = "call_errors"

    run_name: str
    problem_id: str
    role: str
    attempt: int
    call_key: str
    error: str
    reason: str | None


# -- levels (migrations 0003, 0006) ---------------------------------------------------------------------------
@row
class LevelRow(Row):
    TABLE = "levels"
    KEY = ("run_name", "problem_id", "level")
    ON_CONFLICT = "replace"

    run_name: str
    problem_id: str
    level: str
    status: str
    text: str | None
    answer: str | None
    words: int | None
    tokens: int | None
    target_words: int | None
    source_level: str | None
    attempts: int
    reason: str | None
    call_key: str | None


@row
class LevelAttemptRow(UsageRow):
    TABLE = "level_attempts"
    KEY = ("call_key",)
    ON_CONFLICT = "ignore"

    call_key: str
    run_name: str
    problem_id: str
    level: str
    attempt: int
    model: str
    params: dict[str, Any]
    prompt_version: str
    messages: list[dict[str, Any]]
    content: str | None
    text: str | None
    answer: str | None
    words: int | None
    usable: bool
    passed: bool
    reason: str | None


# -- evaluation (migration 0005) ------------------------------------------------------------------------------
@row
class EvalItemRow(Row):
    """One answer of one evaluation, with the rule's verdict (a replayed node writes it again: nothing changes)."""

    TABLE = "eval_items"
    KEY = ("evaluation_id", "problem_id")
    ON_CONFLICT = "ignore"

    evaluation_id: int
    problem_id: str
    response: str
    reasoning: str | None
    answer: str | None
    answer_method: str
    truncated: bool
    finish_reason: str | None
    rule_verdict: str
    rule_reason: str | None
    rule_compared: str | None
    words: int
    prompt_tokens: int | None
    tokens: int | None
    latency_ms: float | None
    batch_size: int | None
    call_key: str | None


@row
class JudgementRow(UsageRow):
    TABLE = "eval_judgements"
    KEY = ("call_key",)
    ON_CONFLICT = "ignore"

    call_key: str
    evaluation_id: int
    problem_id: str
    model: str
    params: dict[str, Any]
    prompt_version: str
    messages: list[dict[str, Any]]
    content: str | None
    verdict: str
    reason: str | None


ROW_MODELS: tuple[type[Row], ...] = (AttemptRow, VerdictRow, OutcomeRow, CorpusRow, CallErrorRow, LevelRow,
                                     LevelAttemptRow, EvalItemRow, JudgementRow)
