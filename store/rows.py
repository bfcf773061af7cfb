"""Typed rows: one model per table distill writes, its columns derived from its fields, its key and conflict
policy declared beside them (store.row_base). Rows are written by store.writer; a test checks every model in
ROW_MODELS against the migrations (names, types and nullability). Ingest and training tables: rows_ingest,
rows_training."""

from __future__ import annotations

import datetime as dt
from typing import Any

from distill.store.row_base import Row, row
from distill.store.rows_ingest import INGEST_ROWS
from distill.store.rows_training import TRAINING_ROWS


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


# -- runs (migration 0001) and service jobs (migration 0010) ----------------------------------------------------
@row
class RunRow(Row):
    """A corpus or levels run with its resolved manifest; a rerun checks it instead of writing it again."""

    TABLE = "runs"
    KEY = ("run_name",)
    ON_CONFLICT = "error"

    run_name: str
    kind: str
    status: str
    manifest: dict[str, Any]
    updated_at: dt.datetime | None = None


@row
class JobRow(Row):
    """A job the service was asked to run (its id comes from a sequence)."""

    TABLE = "jobs"

    kind: str
    run_name: str
    config: dict[str, Any]
    status: str
    stage: str | None = None
    progress: dict[str, Any] | None = None
    result: str | None = None
    error: str | None = None
    log: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


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
class EvaluationRow(Row):
    """One model (base, teacher, or a student's level and seed) evaluated on a run's split."""

    TABLE = "evaluations"
    KEY = ("run_name", "split", "split_seed", "label", "seed")
    ON_CONFLICT = "error"

    run_name: str
    split: str
    split_seed: int
    label: str
    kind: str
    seed: int
    model: str
    settings: dict[str, Any]
    manifest: dict[str, Any]
    training_run: str | None = None
    level: str | None = None
    adapter_dir: str | None = None
    best_iteration: int | None = None
    training_id: int | None = None
    generation_seconds: float | None = None
    updated_at: dt.datetime | None = None


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


ROW_MODELS: tuple[type[Row], ...] = (RunRow, JobRow, AttemptRow, VerdictRow, OutcomeRow, CorpusRow, CallErrorRow,
                                     LevelRow, LevelAttemptRow, EvaluationRow, EvalItemRow, JudgementRow,
                                     *INGEST_ROWS, *TRAINING_ROWS)
