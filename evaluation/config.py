"""What `distill eval` evaluates and how: a pydantic config (unknown keys are errors) and the `--models` list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from distill.agents.endpoints import EndpointConfig
from distill.graphs.runner import Pacing
from distill.store.training import LEVELS
from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["base", "teacher", "student"]


class EndpointStudent(EndpointConfig):
    """A student served behind any OpenAI-compatible endpoint (vLLM with LoRA modules, llama.cpp, Ollama,
    mlx_lm.server): one `[[eval.students]]` entry. It is asked and graded exactly as the teacher is (same runner,
    prompt and rule), and stored as the student `student:NAME`. The key comes only from `api_key_env`."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Its label is student:NAME (letters, "
                      "digits, '.', '_', '-': never a trained adapter's student:RUN/LEVEL).")
    pacing: Pacing | None = Field(None, description="Its own pacing (a GPU box's limits); None: [eval.pacing].")

    @property
    def label(self) -> str:
        return f"student:{self.name}"


class EvalSettings(BaseModel):
    """How to evaluate: a study's `[eval]` table (the run is the study's name)."""

    model_config = ConfigDict(extra="forbid")

    models: str = Field("base,teacher,student", description="base, teacher, student[:RUN[/LEVEL]], comma-separated; "
                        "may be empty when [[eval.students]] names the students.")
    split: Literal["test", "math500"] = Field("test", description="test: the run's held-out split; math500: "
                                              "ingested MATH-500.")
    split_seed: int = Field(0, description="test: the split set; math500: the sampling seed.")
    seeds: list[int] | None = Field(None, description="Training seeds of the student adapters; None: all kept ones.")
    max_tokens: int = Field(1024, ge=1, description="Per answer; an answer cut here is truncated, never graded.")
    temperature: float = Field(0.0, ge=0, le=2, description="0: greedy.")
    batch_size: int = Field(8, ge=1, le=256, description="MLX answers generated together.")
    limit: int | None = Field(None, gt=0, description="A seeded sample of N problems (the same N-prefix every time).")
    base_model: str = Field("student", description="'student' (the default student) or an MLX model directory.")
    teacher: EndpointConfig | None = Field(None, description="None: the local default teacher (llama.cpp).")
    judge: EndpointConfig | Literal["local"] | None = Field(
        None, description="LLM judge for what the rule cannot decide; 'local': the local default teacher.")
    students: list[EndpointStudent] = Field(
        default_factory=list, description="Students served behind OpenAI-compatible endpoints ([[eval.students]]), "
        "evaluated besides `models`.")
    pacing: Pacing = Pacing()
    restart: bool = Field(False, description="Drop stored answers of evaluations whose settings changed.")

    @field_validator("students")
    @classmethod
    def _distinct_names(cls, students: list[EndpointStudent]) -> list[EndpointStudent]:
        names = [s.name for s in students]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"student name(s) {', '.join(repeated)} given more than once: each names one label")
        return students


class EvalConfig(EvalSettings):
    """What `distill eval` evaluates: the settings and the corpus run."""

    run: str = Field(description="The corpus run whose held-out test split is answered (and the report's run).")


@dataclass(frozen=True)
class ModelChoice:
    """One entry of `--models`: the base model, the teacher, or a training run's students (one level or all)."""

    kind: Kind
    training_run: str | None = None
    level: str | None = None


def parse_models(spec: str, run: str) -> list[ModelChoice]:
    """`base,teacher,student:RUN/R1`; a bare `student` means every level trained on `run`."""
    choices: list[ModelChoice] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, rest = part.partition(":")
        if name in ("base", "teacher") and not rest:
            choice = ModelChoice(name)  # type: ignore[arg-type]
        elif name == "student":
            training_run, _, level = (rest or run).partition("/")
            if level and level not in LEVELS:
                raise ValueError(f"--models {part!r}: level {level!r} is not one of {', '.join(LEVELS)}")
            choice = ModelChoice("student", training_run or run, level or None)
        else:
            raise ValueError(f"--models {part!r}: expected base, teacher or student[:RUN[/LEVEL]]")
        if choice not in choices:
            choices.append(choice)
    if not choices:
        raise ValueError("--models names no model")
    return choices
