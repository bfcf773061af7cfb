"""Fixtures for the study tests: the real default models (shared with the models tests)."""

from tests.models.conftest import llama_cpp, real_models  # noqa: F401  (fixtures shared with the models tests)
