"""OpenBLAS on one thread for the duration of a test session: a tiny model gains nothing from threads, and on a
busy 2-core machine they spin."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

import pytest
from distill.models.mlx_runtime import load_mlx, openblas_path


@pytest.fixture(autouse=True, scope="session")
def single_thread_blas() -> Iterator[None]:
    load_mlx()
    path = openblas_path()
    if path is None:
        yield
        return
    library = ctypes.CDLL(path)
    before = library.openblas_get_num_threads()
    library.openblas_set_num_threads(1)
    yield
    library.openblas_set_num_threads(before)
