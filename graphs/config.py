"""The corpus builder's configuration (pydantic, extra keys refused): the only place its defaults live; a TOML
[corpus] table and CLI flags are overrides through it (distill/config_files.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from distill.agents.endpoints import LOCAL_TEACHER_SAMPLING, EndpointConfig, LocalSampling
from distill.graphs.runner import Pacing
from pydantic import BaseModel, ConfigDict, Field, model_validator


class CorpusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    teacher: EndpointConfig | None = Field(None, description="None: the local default teacher (llama.cpp).")
    critic: EndpointConfig | None = Field(None, description="None: the teacher's endpoint.")
    local_sampling: LocalSampling = Field(LOCAL_TEACHER_SAMPLING, description="Sampling of the local teacher "
                                           "(used when no teacher endpoint is configured).")
    critic_mode: Literal["rule", "llm", "cascade"] = "cascade"
    max_attempts: int = Field(3, ge=1, le=20)
    max_tokens_per_problem: int | None = Field(None, gt=0)
    min_reasoning_words: int = Field(0, ge=0, description="An answer with fewer words of work besides it is retried "
                                     "(told to show the steps), never accepted; 0 accepts a bare answer.")
    prompts_dir: Path | None = None
    solver_prompt: Path | None = None
    critic_prompt: Path | None = None
    source: str | None = None
    limit: int | None = Field(None, gt=0, description="The first N problems (in ingest order).")
    include_duplicates: bool = Field(False, description="Also solve exact duplicates.")
    pacing: Pacing = Field(Pacing(), description="How fast, not what: [corpus.pacing], as in [levels] and [eval].")

    # Fields that may differ when a run is resumed; every other field is part of the run's identity.
    RESUMABLE_FIELDS: ClassVar[frozenset[str]] = frozenset({"pacing", "limit"})

    @model_validator(mode="before")
    @classmethod
    def _pacing_is_a_table(cls, values: Any) -> Any:
        flat = sorted(set(Pacing.model_fields) & set(values)) if isinstance(values, dict) else []
        if flat:
            raise ValueError(f"{', '.join(flat)}: pacing keys go in the [corpus.pacing] table")
        return values
