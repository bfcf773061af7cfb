"""The split and training configurations: pydantic models (unknown keys are errors), the only place their defaults
live; TOML tables and CLI flags are overrides through them (distill/config_files.py). The resolved training
config is stored with every training run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SplitConfig(BaseModel):
    """How a run's problems are split (`distill split`, a study's `[split]`)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="The split seed (training seeds never change the split).")
    valid: float = Field(0.1, gt=0, lt=1, description="Fraction of the problems with training text (outside "
                         "test) held for validation.")
    test: float = Field(0.1, gt=0, lt=1, description="Fraction of all active problems of the run's sources held "
                        "out for test.")
    allow_leaks: bool = Field(False, description="Export and train even when training questions overlap held-out "
                              "ones.")


class LoraParameters(BaseModel):
    """mlx-lm's LoRA parameters (`scale`, not alpha); `keys` None = every linear layer of each block."""

    model_config = ConfigDict(extra="forbid")

    rank: int = Field(8, ge=1)
    scale: float = Field(20.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    keys: list[str] | None = None

    def mlx(self) -> dict[str, Any]:
        values = {"rank": self.rank, "scale": self.scale, "dropout": self.dropout}
        return {**values, "keys": self.keys} if self.keys else values


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("student", description="'student' (the default student) or an MLX model directory.")
    seeds: list[int] = Field([1, 2, 3], min_length=1, description="One training run (and adapter) per seed.")
    split_seed: int = Field(0, description="Which stored split set to train on; training seeds never change it.")
    iters: int = Field(1000, ge=1)
    batch_size: int = Field(4, ge=1)
    learning_rate: float = Field(1e-5, gt=0)
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = Field(0.0, ge=0, description="adamw only.")
    num_layers: int = Field(-1, ge=-1, description="Blocks to adapt, from the last; -1 = all.")
    lora: LoraParameters = LoraParameters()
    mask_prompt: bool = Field(True, description="Train on the assistant's answer only.")
    max_seq_length: int | Literal["auto"] = Field(
        "auto", description="'auto': the longest exported example (train or valid), at most max_seq_length_cap.")
    max_seq_length_cap: int = Field(2048, ge=16)
    steps_per_report: int = Field(10, ge=1)
    steps_per_eval: int = Field(50, ge=1, description="Validate (and checkpoint) every N iterations.")
    val_batches: int = Field(-1, ge=-1, description="-1 = the whole validation set.")
    patience: int | None = Field(5, ge=1, description="Stop after N evaluations without improvement; None: never.")
    min_delta: float = Field(0.0, ge=0, description="An improvement must lower the val loss by more than this.")
    grad_accumulation_steps: int = Field(1, ge=1)
    grad_checkpoint: bool = False
    memory_check: bool = Field(True, description="Refuse to start when the estimated peak memory does not fit.")
    out_dir: Path = Field(Path("runs"), description="Adapters go to OUT_DIR/<run>/adapters/<level>/seed-<s>/.")

    # May change when a training run is resumed; every other field must match the stored run.
    RESUMABLE_FIELDS: ClassVar[frozenset[str]] = frozenset({"iters", "patience", "seeds", "memory_check", "out_dir"})

    @model_validator(mode="after")
    def _aligned(self) -> TrainConfig:
        # Checkpoints are taken at evaluations; a resume must land on a report and an optimizer-update boundary.
        if self.steps_per_eval % self.steps_per_report:
            raise ValueError(f"steps_per_eval ({self.steps_per_eval}) must be a multiple of steps_per_report "
                             f"({self.steps_per_report})")
        if self.steps_per_eval % self.grad_accumulation_steps:
            raise ValueError(f"steps_per_eval ({self.steps_per_eval}) must be a multiple of grad_accumulation_steps "
                             f"({self.grad_accumulation_steps})")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds repeat: {self.seeds}")
        return self

    def identity(self) -> dict[str, Any]:
        """The part that decides results: a resume with a different identity is refused."""
        return self.model_dump(mode="json", exclude=set(self.RESUMABLE_FIELDS))
