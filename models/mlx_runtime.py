"""MLX on the CPU, fast: the one place distill imports `mlx`.

The `mlx-cpu` wheel for Linux bundles netlib's reference BLAS (~8 GFLOP/s on float32 matmul). When Debian's
OpenBLAS (`libopenblas0-pthread`) is present, loading it with RTLD_GLOBAL *before* the first
`import mlx.core` makes MLX bind to it (~110 GFLOP/s; LoRA ~13x faster). Every distill module that needs
mlx or mlx-lm calls `load_mlx()` first:

    mx = load_mlx()                  # mlx.core, with OpenBLAS bound when the machine has it
    model, tokenizer = load_mlx_model(default_student_mlx_dir())

Keep weights float32 on the CPU: MLX's 4/8-bit and bfloat16 CPU kernels are slower than float32.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType

OPENBLAS_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
)
_prepared = False


def openblas_path() -> str | None:
    """The OpenBLAS library this machine has, or None."""
    return next((path for path in OPENBLAS_CANDIDATES if Path(path).is_file()), None)


def load_mlx() -> ModuleType:
    """`mlx.core`, with OpenBLAS loaded first on Linux when present. Cheap to call any number of times."""
    global _prepared
    if not _prepared:
        _prepared = True
        # mlx-lm imports transformers, which advises at import that torch is missing: true, and not needed here.
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        path = openblas_path() if sys.platform == "linux" else None
        if path is not None and "mlx.core" not in sys.modules:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        elif path is not None and "libopenblas" not in blas_in_use():
            warnings.warn("mlx.core was imported before distill's load_mlx(): MLX runs on its slow reference BLAS; "
                          "import distill.models.mlx_runtime and call load_mlx() before anything imports mlx or mlx_lm",
                          stacklevel=2)
    import mlx.core

    return mlx.core


def load_mlx_model(path: Path | str, adapter_path: Path | str | None = None):
    """`(model, tokenizer)` from an MLX model directory via `mlx_lm.load`, after `load_mlx()`."""
    load_mlx()
    from mlx_lm import load

    return load(str(path), adapter_path=str(adapter_path) if adapter_path else None)


def blas_in_use() -> str:
    """The BLAS libraries mapped into this process (from /proc/self/maps), e.g. `libopenblas.so.0`."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown (no /proc/self/maps)" if sys.platform == "linux" else f"system ({platform.system()})"
    names = sorted({Path(line.split()[-1]).name for line in maps.splitlines()
                    if "/" in line and ("blas" in line.lower() or "accelerate" in line.lower())})
    return ", ".join(names) or "none mapped"


def mlx_device() -> str:
    mx = load_mlx()
    return str(mx.default_device())


def matmul_gflops(size: int = 1024, repeats: int = 5) -> float:
    """Measured float32 matmul speed on MLX's default device, in GFLOP/s (best of `repeats`)."""
    mx = load_mlx()
    a = mx.random.normal((size, size), dtype=mx.float32)
    b = mx.random.normal((size, size), dtype=mx.float32)
    mx.eval(a @ b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        mx.eval(a @ b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9
