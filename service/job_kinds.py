"""What a job is: a study (all of it, or some of its stages) or one stage on a run, with the same validated
tables the CLI takes; and how each kind runs on the service's open store."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Literal

from distill.store import Store
from pydantic import BaseModel, ConfigDict, Field, model_validator

from distill.config_files import ConfigError, validated
from distill.stage_configs import TABLE_MODELS
from distill.study import STAGES, StudyConfig, TrainSettings, fail_on, run_study

Kind = Literal["study", "corpus", "levels", "train", "eval"]
STAGE_KINDS = ("corpus", "levels", "train", "eval")
WHERE = "job config"


class JobRequest(BaseModel):
    """`POST /jobs`: `{"kind": "study", "config": {...the study file...}, "stages": ["corpus"]}` or
    `{"kind": "corpus", "run": "demo", "config": {...the [corpus] table...}}`."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    config: dict[str, Any] = Field(default_factory=dict)
    run: str | None = Field(None, min_length=1, description="The run a stage job works on (a study: its name).")
    stages: list[str] | None = Field(None, description="A study job: only these stages, in the study's order.")

    @model_validator(mode="after")
    def _shape(self) -> JobRequest:
        if self.kind == "study":
            if self.run is not None:
                raise ValueError("a study job's run is its config's `name`: leave `run` out")
            unknown = [s for s in self.stages or [] if s not in STAGES]
            if unknown:
                raise ValueError(f"stages {unknown} are not among {', '.join(STAGES)}")
        else:
            if self.run is None:
                raise ValueError(f"a {self.kind} job needs `run`")
            if self.stages is not None:
                raise ValueError("`stages` is for study jobs")
        return self


class ValidJob(BaseModel):
    kind: str
    run_name: str
    config: BaseModel
    stages: list[str] | None = None

    def record(self) -> dict[str, Any]:
        """What the jobs table keeps: the validated config (key names only, never keys) and the stages."""
        return {"config": self.config.model_dump(mode="json", exclude_unset=True), "stages": self.stages}


def table_model(kind: str) -> type[BaseModel]:
    return TrainSettings if kind == "train" else TABLE_MODELS[kind]


def validate_job(request: JobRequest, store_path: str) -> ValidJob:
    """The request's config validated by its stage's model; a ConfigError names the table and the key."""
    if request.kind == "study":
        config = validated(StudyConfig, request.config, WHERE)
        if config.db is not None and str(config.db.resolve()) != str(store_path):
            raise ConfigError(f"{WHERE}: db: this service holds {store_path}, not {config.db}; leave `db` out")
        return ValidJob(kind="study", run_name=config.name, config=config, stages=request.stages)
    config = validated(table_model(request.kind), request.config, WHERE, request.kind)
    return ValidJob(kind=request.kind, run_name=request.run, config=config)


def revived(row: dict[str, Any]) -> ValidJob:
    """A stored job, validated again (to run it, or resume it after a restart)."""
    kind, record = row["kind"], row["config"]
    model = StudyConfig if kind == "study" else table_model(kind)
    return ValidJob(kind=kind, run_name=row["run_name"], config=validated(model, record["config"], WHERE, kind),
                    stages=record.get("stages"))


Progress = Callable[[str], contextlib.AbstractContextManager]
Log = Callable[[str], None]


def run_job(store: Store, job: ValidJob, log: Log, progress: Progress) -> str:
    """Run the job on the open store; returns a one-line summary. Raises what the stage raises."""
    if job.kind == "study":
        result = run_study(job.config, log, progress, store=store, stages=job.stages)
        return "; ".join(f"{k}: {v}" for k, v in result.notes.items())
    return STAGE_RUNNERS[job.kind](store, job.run_name, job.config, log, progress)


def _corpus(store: Store, run: str, config: Any, log: Log, progress: Progress) -> str:
    from distill.graphs.build import build_corpus

    with progress(f"corpus {run}") as update:
        tally = build_corpus(store, run, config, update)
    return _tally_line(tally, "corpus")


def _levels(store: Store, run: str, config: Any, log: Log, progress: Progress) -> str:
    from distill.graphs.build import build_levels

    with progress(f"levels {run}") as update:
        tally = build_levels(store, run, config, update)
    return _tally_line(tally, "levels")


def _train(store: Store, run: str, config: TrainSettings, log: Log, progress: Progress) -> str:
    from distill.training.train import train_level

    lines = []
    for level in config.levels:
        for outcome in train_level(store, run, level, config.for_training(), log=log):
            lines.append(f"{level}/seed {outcome.seed}: {outcome.status}")
    return "; ".join(lines)


def _eval(store: Store, run: str, config: Any, log: Log, progress: Progress) -> str:
    from distill.evaluation.config import EvalConfig
    from distill.evaluation.run import evaluate

    with progress(f"eval {run}") as update:
        outcome = evaluate(store, EvalConfig(run=run, **config.model_dump(exclude_unset=True)), log, update)
    if outcome.errors:
        raise RuntimeError(f"evaluation had {len(outcome.errors)} error(s): {outcome.errors[:3]}")
    return f"{len(outcome.evaluation_ids)} evaluation(s) of {outcome.problems} problems"


def _tally_line(tally: Any, stage: str) -> str:
    fail_on(tally, stage)
    counts = ", ".join(f"{tally.counts[o]} {o}" for o in tally.outcomes)
    return f"{tally.done} of {tally.total} done now ({counts}); {tally.tokens:,} tokens in the run"


STAGE_RUNNERS: dict[str, Callable[..., str]] = {"corpus": _corpus, "levels": _levels, "train": _train,
                                                "eval": _eval}
