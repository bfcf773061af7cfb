"""`distill doctor`: what this machine runs distill with: versions, MLX device and BLAS, models, llama.cpp."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from distill.models.gguf_to_mlx import CONVERTER_VERSION, read_marker
from distill.models.install import llama_cpp_missing
from distill.models.mlx_runtime import blas_in_use, load_mlx, matmul_gflops, openblas_path
from distill.models.registry import DEFAULT_MODELS, KNOWN_MODELS, resolve_models_dir

PACKAGES = ("distill", "mlx", "mlx-cpu", "mlx-lm", "transformers", "gguf", "llama-cpp-python", "duckdb", "langgraph")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" (works, but slower or partial) or "fail"
    detail: str


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_checks() -> list[Check]:
    checks = [Check("python", "ok", f"{platform.python_version()} ({sys.executable})")]
    for package in PACKAGES:
        version = _version(package)
        if version is not None:
            checks.append(Check(package, "ok", version))
        elif package == "llama-cpp-python":
            checks.append(Check(package, "warn", "not installed (optional extra `serve`; `distill models setup`)"))
        elif package == "mlx-cpu" and sys.platform != "linux":
            continue
        else:
            checks.append(Check(package, "fail", "not installed"))
    return checks


def mlx_checks() -> list[Check]:
    try:
        mx = load_mlx()
    except Exception as exc:  # report any import failure (e.g. plain `mlx` on Linux without mlx[cpu])
        return [Check("mlx device", "fail", f"cannot import mlx.core: {type(exc).__name__}: {exc}")]
    checks = [Check("mlx device", "ok", str(mx.default_device()))]
    mapped = blas_in_use()
    speed = f"float32 matmul {matmul_gflops():.0f} GFLOP/s"
    openblas = [name for name in mapped.split(", ") if name.startswith("libopenblas")]
    if openblas:  # MLX's own reference libblas stays mapped, but its symbols now resolve to OpenBLAS
        checks.append(Check("blas", "ok", f"OpenBLAS ({openblas[0]}) loaded before MLX; {speed}"))
    elif sys.platform != "linux":
        checks.append(Check("blas", "ok", f"{mapped}; {speed}"))
    elif openblas_path() is None:
        checks.append(Check("blas", "warn", f"{mapped} (reference BLAS, slow); {speed}; install Debian's "
                                            "libopenblas0-pthread for ~13x faster training"))
    else:
        checks.append(Check("blas", "warn", f"{mapped}: OpenBLAS is installed but not loaded (mlx was imported "
                                            f"before load_mlx()); {speed}"))
    return checks


def model_checks(models_dir: Path | None = None) -> list[Check]:
    directory = resolve_models_dir(models_dir)
    checks = [Check("models dir", "ok" if directory.is_dir() else "fail", str(directory))]
    for spec in KNOWN_MODELS.values():
        gguf = spec.gguf_path(directory)
        if spec.name not in DEFAULT_MODELS and not gguf.exists() and not spec.mlx_dir(directory).exists():
            continue  # an optional model that was never installed
        if not gguf.is_file():
            checks.append(Check(f"{spec.name} gguf", "fail", f"missing {gguf}: run `distill models setup`"))
        elif gguf.stat().st_size != spec.size:
            checks.append(Check(f"{spec.name} gguf", "fail", f"{gguf} has the wrong size: run `distill models setup`"))
        else:
            checks.append(Check(f"{spec.name} gguf", "ok", f"{spec.title}: {gguf} ({spec.size / 1e6:.0f} MB)"))
        marker = read_marker(spec.mlx_dir(directory))
        if marker is None:
            checks.append(Check(f"{spec.name} mlx", "fail", f"missing {spec.mlx_dir(directory)}"))
        elif marker.get("source_sha256") != spec.sha256 or marker.get("converter_version") != CONVERTER_VERSION:
            checks.append(Check(f"{spec.name} mlx", "warn", f"{spec.mlx_dir(directory)} is from another file or "
                                                            "converter version: run `distill models setup`"))
        else:
            params = marker.get("parameters", 0) / 1e6
            checks.append(Check(f"{spec.name} mlx", "ok", f"{spec.mlx_dir(directory)} (float32, {params:.0f}M)"))
    return checks


def llama_cpp_checks() -> list[Check]:
    missing = llama_cpp_missing()
    if missing:
        return [Check("llama.cpp server", "warn", f"unavailable (missing {', '.join(missing)}): "
                                                  "`distill models setup` installs it")]
    return [Check("llama.cpp server", "ok", f"python -m llama_cpp.server (llama-cpp-python "
                                            f"{_version('llama-cpp-python')})")]


def run_doctor(models_dir: Path | None = None) -> list[Check]:
    return package_checks() + mlx_checks() + model_checks(models_dir) + llama_cpp_checks()
