"""`--config FILE` for every stage command: the stage's model from a study file or from a file holding just the
stage's table, with the command's flags on top (distill/config_files.py).

- A **study file** (it has `name` or `[[inputs]]`, like examples/demo.toml) is validated whole, and the stage
  gets exactly what `distill study` would give it: `[levels]` and `[eval]` inherit `[corpus.teacher]`, `[train]`
  writes under `out`, `[eval]` answers for the study's `name`, and the store is its `db`.
- Any other file is the stage's table: either a `[corpus]` (`[levels]`, `[split]`, `[train]`, `[eval]`) table in
  it, or, when it has none, the whole file. For `distill ingest`, its `[[inputs]]` entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal

from pydantic import BaseModel, ConfigDict, Field

from distill.config_files import FLAGS, M, merged, read_toml, table_of, validated, with_flags
from distill.evaluation.config import EvalConfig, EvalSettings
from distill.graphs.config import CorpusConfig
from distill.graphs.levels import LevelsConfig
from distill.settings import db_path
from distill.study import InputSet, StudyConfig, load_study_config
from distill.training.config import SplitConfig, TrainConfig

Stage = Literal["corpus", "levels", "split", "train", "eval"]

# The model a stage's table is validated by (eval's table has no run: the flag or the study gives it), and the
# model the command runs with.
TABLE_MODELS: dict[str, type[BaseModel]] = {"corpus": CorpusConfig, "levels": LevelsConfig, "split": SplitConfig,
                                            "train": TrainConfig, "eval": EvalSettings}
STAGE_MODELS: dict[str, type[BaseModel]] = {**TABLE_MODELS, "eval": EvalConfig}


@dataclass(frozen=True)
class StageConfig(Generic[M]):
    """A stage's resolved config, and the study it came from (None for a table file or no file)."""

    config: M
    study: StudyConfig | None = None

    def db(self, flag: Path | None) -> Path:
        """--db, else the study file's `db`, else $DISTILL_DB, else ./distill.duckdb."""
        return db_path(flag, self.study.db if self.study else None)


def from_study(study: StudyConfig, stage: Stage) -> BaseModel:
    """What `distill study` runs the stage with."""
    if stage == "train":
        return study.train_config()
    if stage == "eval":
        return study.eval_config()
    return getattr(study, stage)


def is_study(document: dict[str, Any]) -> bool:
    return "name" in document or "inputs" in document


def load_stage(stage: Stage, path: Path | None, flags: dict[str, Any]) -> StageConfig:
    """The stage's config: the model's defaults, then the file (if any), then the flags that were given."""
    study = None
    values: dict[str, Any] = {}
    if path is not None:
        document = read_toml(path)
        if is_study(document):
            study = load_study_config(path)
            values = from_study(study, stage).model_dump(exclude_unset=True)
        else:
            table, prefix = table_of(document, stage)
            checked_by = STAGE_MODELS[stage] if "run" in table else TABLE_MODELS[stage]  # eval's table may name the run
            values = validated(checked_by, table, path, prefix).model_dump(exclude_unset=True)
    model = STAGE_MODELS[stage]
    return StageConfig(validated(model, merged(values, flags), FLAGS), study)


class Inputs(BaseModel):
    """A file holding `[[inputs]]` entries (as in a study file) and nothing else."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[InputSet] = Field(min_length=1)


def load_inputs(path: Path, flags: dict[str, Any]) -> StageConfig[Inputs]:
    """The `[[inputs]]` of a study file (or of a file holding only them), each with the flags given on top."""
    document = read_toml(path)
    study = load_study_config(path) if is_study(document) and set(document) != {"inputs"} else None
    inputs = study.inputs if study else validated(Inputs, document, path).inputs
    return StageConfig(Inputs(inputs=[with_flags(item, flags) for item in inputs]), study)
