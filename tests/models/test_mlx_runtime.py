"""MLX binds to OpenBLAS when distill loads it first (checked in fresh interpreters: the binding is per process)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from distill.models.mlx_runtime import openblas_path


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(sys.platform != "linux", reason="OpenBLAS preloading is for MLX on Linux")
def test_load_mlx_maps_openblas_before_mlx():
    if openblas_path() is None:
        pytest.skip("Debian's libopenblas0-pthread is not installed (scripts/bootstrap.sh installs it as root)")
    result = run_python(
        "from distill.models.mlx_runtime import load_mlx, blas_in_use\n"
        "mx = load_mlx()\n"
        "a = mx.ones((256, 256)); mx.eval(a @ a)\n"
        "print(blas_in_use()); print(mx.default_device())"
    )
    assert result.returncode == 0, result.stderr
    blas, device = result.stdout.strip().splitlines()[-2:]
    assert "libopenblas" in blas
    assert "cpu" in device.lower()


@pytest.mark.skipif(sys.platform != "linux", reason="OpenBLAS preloading is for MLX on Linux")
def test_importing_mlx_first_is_reported():
    if openblas_path() is None:
        pytest.skip("Debian's libopenblas0-pthread is not installed")
    result = run_python("import mlx.core\nfrom distill.models.mlx_runtime import load_mlx\nload_mlx()")
    assert result.returncode == 0, result.stderr
    assert "mlx.core was imported before distill's load_mlx()" in result.stderr


def test_importing_the_models_package_does_not_import_mlx():
    result = run_python("import sys, models, models.doctor, distill.commands.model_commands\n"
                        "print('mlx.core' in sys.modules, 'mlx_lm' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
