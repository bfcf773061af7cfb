"""`distill study`: the whole study from one config file, stage after stage, each resuming what is stored:
ingest -> corpus -> levels -> split -> train (levels x seeds) -> evaluate -> report."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from distill import cancel
from distill.config_files import ConfigError, read_toml, validated, with_flags
from distill.evaluation.config import EvalConfig, EvalSettings
from distill.graphs.config import CorpusConfig
from distill.graphs.levels import LevelsConfig
from distill.settings import db_path
from distill.store.ingest import FieldMapping, IngestLimits
from distill.store.training import LEVELS
from distill.training.config import SplitConfig, TrainConfig

Log = Callable[[str], None]
STAGES = ("ingest", "corpus", "levels", "split", "train", "eval", "report")


StudyConfigError = ConfigError  # the name callers knew


class GeneratedSet(BaseModel):
    """Problems from the bundled generator of competition-style families (store/ingest/families.py)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(gt=0, le=100_000)
    seed: int = 0
    families: list[str] | None = Field(None, description="None: every family.")

    @model_validator(mode="after")
    def _known(self) -> GeneratedSet:
        from distill.store.ingest.families import FAMILIES

        unknown = [f for f in self.families or [] if f not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown families {unknown}: known are {', '.join(FAMILIES)}")
        return self


class InputSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="A problem file, or a folder of them.")
    format: Literal["obryan", "math500", "jsonl", "csv"]
    source: str | None = Field(None, description="Source name (default: the format name).")
    question_field: str = Field(FieldMapping.question, description="jsonl/csv: the question column.")
    answer_field: str = Field(FieldMapping.answer, description="jsonl/csv: the answer column.")
    id_field: str | None = Field(FieldMapping.id, description="jsonl/csv: the id column (none: 'id' if present, "
                                 "else the row number).")
    skip_invalid: bool = Field(False, description="Store the valid records; record each invalid one as a reject.")
    max_question_chars: int = Field(IngestLimits.max_question_chars, gt=0,
                                    description="Refuse a question longer than this (characters).")
    max_answer_chars: int = Field(IngestLimits.max_answer_chars, gt=0,
                                  description="Refuse an answer longer than this (characters).")
    generate: GeneratedSet | None = Field(None, description="Write `path` (JSONL) from the generator first.")

    @model_validator(mode="after")
    def _generated_is_jsonl(self) -> InputSet:
        if self.generate is not None and self.format != "jsonl":
            raise ValueError("a generated input set is written as JSONL: use format = \"jsonl\"")
        return self

    def ingest(self, store: Any) -> Any:
        """Generate the file first if asked, then ingest it (store/ingest); returns the IngestReport."""
        from distill.store.ingest import ingest
        from distill.store.ingest.families import write_jsonl

        if self.generate is not None:
            write_jsonl(self.path, self.generate.count, self.generate.seed, self.generate.families)
        mapping = FieldMapping(self.question_field, self.answer_field, self.id_field)
        limits = IngestLimits(self.max_question_chars, self.max_answer_chars)
        return ingest(store, self.path, self.format, self.source, mapping, self.skip_invalid, limits)


class TrainSettings(TrainConfig):
    levels: list[str] = Field(default_factory=lambda: ["R1", "R4"], min_length=1,
                              description="One adapter per level and seed.")

    @model_validator(mode="after")
    def _known_levels(self) -> TrainSettings:
        unknown = [level for level in self.levels if level not in LEVELS]
        if unknown:
            raise ValueError(f"levels {unknown} are not among {', '.join(LEVELS)}")
        return self

    def for_training(self) -> TrainConfig:
        return TrainConfig(**self.model_dump(exclude={"levels"}))


class StudyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The run name every stage uses.")
    db: Path | None = Field(None, description="The store; None: --db, else $DISTILL_DB, else ./distill.duckdb.")
    out: Path = Field(TrainConfig.model_fields["out_dir"].default,
                      description="Exports, adapters and the report go under OUT/<name>/.")
    inputs: list[InputSet] = Field(min_length=1)
    corpus: CorpusConfig = CorpusConfig()
    levels: LevelsConfig = LevelsConfig()
    split: SplitConfig = SplitConfig()
    train: TrainSettings = TrainSettings()
    eval: EvalSettings = Field(EvalSettings(), description="EvalConfig without `run`: the study's name is the run.")

    @model_validator(mode="after")
    def _one_teacher(self) -> StudyConfig:
        """A [corpus.teacher] is also the compressor and the evaluated teacher unless those are given."""
        if self.corpus.teacher is not None and self.levels.compressor is None:
            self.levels = self.levels.model_copy(update={"compressor": self.corpus.teacher})
        return self

    def eval_config(self) -> EvalConfig:
        values = self.eval.model_dump(exclude_unset=True)  # keeps which pacing keys were given
        if self.corpus.teacher is not None and "teacher" not in self.eval.model_fields_set:
            values["teacher"] = self.corpus.teacher
        return EvalConfig(run=self.name, **values)

    def train_config(self) -> TrainConfig:
        return self.train.for_training().model_copy(update={"out_dir": self.out})

    def report_dir(self) -> Path:
        return self.out / self.name / "report"

    def store_path(self, flag: Path | None = None) -> Path:
        """--db, else this file's `db`, else $DISTILL_DB, else ./distill.duckdb."""
        return db_path(flag, self.db)


def load_study_config(path: Path, overrides: dict[str, Any] | None = None) -> StudyConfig:
    """The TOML file (relative paths in it are relative to the current directory), validated; `overrides` (flags,
    None = not given) on top. Errors name the file, or the flags, and the key."""
    config = validated(StudyConfig, read_toml(path), path)
    return with_flags(config, overrides or {})


@dataclass
class StudyResult:
    report_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    headline: list[dict[str, Any]] = field(default_factory=list)
    paired: list[str] = field(default_factory=list)  # "student R1 − base: +x.x pp [lo, hi], p = ..." lines


def run_study(config: StudyConfig, log: Log = print, progress: Callable[[str], Any] | None = None, *,
              store: Any = None, stages: Sequence[str] | None = None) -> StudyResult:
    """Run every stage (or only `stages`) in order; each one skips what the store already holds, so a rerun
    resumes. `store`: an open store (the service's); None opens the study's."""
    from contextlib import nullcontext

    from distill.evaluation.aggregate import per_model
    from distill.evaluation.paired import comparisons
    from distill.evaluation.report import build_report, headlines
    from distill.evaluation.run import evaluate
    from distill.graphs.build import build_corpus, build_levels
    from distill.store import Store
    from distill.training.splits import held_out_test_ids, make_split
    from distill.training.train import train_level

    result = StudyResult(report_dir=config.report_dir())
    bar = progress or (lambda title: nullcontext(None))
    with nullcontext(store) if store is not None else Store(config.store_path()) as store:
        def stage(name: str, work: Callable[[], str]) -> None:
            cancel.check()
            started = time.perf_counter()
            log(f"== {name}")
            result.notes[name] = work()
            result.seconds[name] = time.perf_counter() - started
            log(f"   {name}: {result.notes[name]} ({result.seconds[name]:.0f} s)")

        def ingest_all() -> str:
            counts = []
            for item in config.inputs:
                report = item.ingest(store)
                counts.append(f"{report.source}: {report.inserted} new, {report.unchanged} unchanged")
            return "; ".join(counts)

        def corpus() -> str:
            sources = [config.corpus.source] if config.corpus.source else [
                r["name"] for r in store.query("SELECT name FROM sources ORDER BY name")]
            held_out = held_out_test_ids(store, sources, config.split.seed, config.split.test)
            with bar(f"corpus {config.name}") as update:
                tally = build_corpus(store, config.name, config.corpus, update, frozenset(held_out))
            fail_on(tally, "corpus")
            run = store.query("SELECT * FROM run_summary WHERE run_name = ?", [config.name])[0]
            return (f"{tally.total} problem(s) done now ({len(held_out)} held out for test, never sent to the "
                    f"teacher); the run: {run['accepted']} accepted, {run['abstained']} abstained, "
                    f"{run['attempts']} attempts, {run['tokens']:,} tokens")

        def levels() -> str:
            with bar(f"levels {config.name}") as update:
                tally = build_levels(store, config.name, config.levels, update)
            fail_on(tally, "levels")
            rows = store.query("SELECT level, ok, failed, mean_words FROM level_summary WHERE run_name = ? "
                               "ORDER BY level", [config.name])
            return f"{tally.total} row(s) done now; " + ", ".join(
                f"{r['level']} {r['ok']} ok/{r['failed']} failed ({r['mean_words'] or 0:.0f} words)" for r in rows)

        def split() -> str:
            s = config.split
            made = make_split(store, config.name, s.seed, valid=s.valid, test=s.test)
            return ", ".join(f"{made.counts[k]} {k}" for k in ("train", "valid", "test", "unused"))

        def train() -> str:
            lines = []
            for level in config.train.levels:
                for outcome in train_level(store, config.name, level, config.train_config(),
                                           allow_leaks=config.split.allow_leaks, log=log):
                    lines.append(f"{level}/seed {outcome.seed}: {outcome.status}, best iteration "
                                 f"{outcome.best_iteration} (val {outcome.best_val_loss:.3f})"
                                 if outcome.best_val_loss is not None else f"{level}/seed {outcome.seed}: "
                                 f"{outcome.status}")
            return "; ".join(lines)

        def evaluation() -> str:
            outcome = evaluate(store, config.eval_config(), log)
            if outcome.errors:
                raise RuntimeError(f"evaluation had {len(outcome.errors)} error(s): {outcome.errors[:3]}")
            return f"{len(outcome.evaluation_ids)} evaluation(s) of {outcome.problems} problems"

        def report() -> str:
            build_report(store, config.name, result.report_dir)
            split_name = config.eval_config().split
            result.headline = per_model(store, config.name, split_name)
            result.paired = headlines(comparisons(store, config.name, split_name))
            return str(result.report_dir / "report.html")

        for name, work in zip(STAGES, (ingest_all, corpus, levels, split, train, evaluation, report), strict=True):
            if stages is None or name in stages:
                stage(name, work)
    return result


def fail_on(tally: Any, stage: str) -> None:
    """A stage with endpoint failures or a spent budget stops the study or the job (a rerun resumes it)."""
    if tally.stopped:
        raise RuntimeError(f"{stage} stopped early: {tally.stopped}; rerun to resume")
    if tally.failed:
        raise RuntimeError(f"{stage}: {tally.failed} item(s) failed ({'; '.join(tally.errors[:3])}); rerun to retry")
