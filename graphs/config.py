"""The corpus builder's configuration (pydantic, extra keys refused), from a TOML table and CLI overrides."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from distill.agents.endpoints import LOCAL_TEACHER_SAMPLING, EndpointConfig, LocalSampling
from distill.graphs.runner import Pacing
from pydantic import BaseModel, ConfigDict, Field


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
    limit: int | None = Field(None, gt=0)
    include_duplicates: bool = False
    # how fast, not what: these may change between resumes of the same run
    concurrency: int = Field(32, ge=1, le=1024)
    rpm: float | None = Field(None, gt=0, description="Requests per minute, all roles together.")
    tpm: float | None = Field(None, gt=0, description="Tokens per minute, all roles together.")
    token_budget: int | None = Field(None, gt=0, description="Stop starting requests after this many tokens.")

    # Fields that may differ when a run is resumed; every other field is part of the run's identity.
    PACING_FIELDS: ClassVar[frozenset[str]] = frozenset({"concurrency", "rpm", "tpm", "token_budget", "limit"})

    def pacing(self) -> Pacing:
        return Pacing(concurrency=self.concurrency, rpm=self.rpm, tpm=self.tpm, token_budget=self.token_budget)
