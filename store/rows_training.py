"""Typed rows of the training tables (migrations 0004, 0009): split sets, splits, contamination, exports, training
runs, their losses, and student exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from distill.store.row_base import Row, row


@row
class SplitSetRow(Row):
    """How a run's problems were split under one seed (its rows: SplitRow)."""

    TABLE = "split_sets"
    KEY = ("run_name", "split_seed")
    ON_CONFLICT = "error"

    run_name: str
    split_seed: int
    valid_fraction: float
    test_fraction: float
    sources: list[str]
    counts: dict[str, int]
    leaks: int
    updated_at: dt.datetime | None = None


@row
class SplitRow(Row):
    TABLE = "splits"
    KEY = ("run_name", "split_seed", "problem_id")
    ON_CONFLICT = "error"

    run_name: str
    split_seed: int
    problem_id: str
    split: str
    cluster_id: str
    representative: bool
    stratum: str
    has_text: bool


@row
class ContaminationRow(Row):
    """A training question that shares n-grams with a held-out one."""

    TABLE = "contamination"
    KEY = ("run_name", "split_seed", "problem_id", "other_id", "against")
    ON_CONFLICT = "error"

    run_name: str
    split_seed: int
    problem_id: str
    other_id: str
    against: str
    shared_ngrams: int
    example: str


@row
class ExportRow(Row):
    """The mlx-lm JSONL files written for one (run, split seed, level); its id comes from a sequence."""

    TABLE = "exports"

    run_name: str
    split_seed: int
    level: str
    text_source: str
    folder: str
    files: dict[str, Any]
    train_rows: int
    valid_rows: int
    test_rows: int
    missing_text: dict[str, int]
    leaks: int
    allow_leaks: bool


@row
class TrainingRunRow(Row):
    """One LoRA training as it starts; the loop updates its progress columns."""

    TABLE = "training_runs"
    KEY = ("run_name", "level", "split_seed", "seed")
    ON_CONFLICT = "error"

    run_name: str
    level: str
    split_seed: int
    seed: int
    export_id: int
    model: str
    adapter_dir: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    status: str
    iters: int
    max_seq_length: int
    truncated_train: int
    truncated_valid: int
    last_iteration: int = 0
    best_iteration: int | None = None
    best_val_loss: float | None = None
    memory_estimate: int | None = None
    peak_memory: int | None = None
    seconds: float | None = None
    error: str | None = None
    updated_at: dt.datetime | None = None


@row
class TrainingLossRow(Row):
    """A reported loss: 'train' averaged since the previous report, 'valid' over the validation set."""

    TABLE = "training_losses"
    KEY = ("training_id", "split", "iteration")
    ON_CONFLICT = "error"

    training_id: int
    split: str
    iteration: int
    loss: float
    tokens: int | None = None
    learning_rate: float | None = None
    iterations_per_second: float | None = None
    tokens_per_second: float | None = None
    peak_memory_gb: float | None = None


@row
class StudentExportRow(Row):
    """A fused or PEFT export of a kept adapter; its id comes from a sequence."""

    TABLE = "student_exports"

    training_id: int
    run_name: str
    level: str
    split_seed: int
    seed: int
    format: str
    dtype: str | None
    path: str
    base_model: str
    adapter_dir: str
    adapter_sha256: str
    best_iteration: int | None
    training_status: str
    files: dict[str, Any]
    details: dict[str, Any]
    seconds: float


TRAINING_ROWS: tuple[type[Row], ...] = (SplitSetRow, SplitRow, ContaminationRow, ExportRow, TrainingRunRow,
                                        TrainingLossRow, StudentExportRow)
