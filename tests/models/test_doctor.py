"""`distill doctor` on a machine without the models: it says what is missing and how to get it."""

from __future__ import annotations

from distill.models.doctor import run_doctor


def test_missing_models_are_failures_with_the_fix(tmp_path):
    checks = {check.name: check for check in run_doctor(tmp_path / "none")}
    for name in ("models dir", "teacher gguf", "student gguf", "teacher mlx", "student mlx"):
        assert checks[name].status == "fail", checks[name]
    assert "distill models setup" in checks["teacher gguf"].detail
    assert checks["mlx device"].status == "ok"
    assert "GFLOP/s" in checks["blas"].detail
    assert checks["python"].status == "ok" and checks["mlx-lm"].status == "ok"


def test_doctor_command_exits_non_zero_when_something_fails(cli, tmp_path):
    result = cli("doctor", "--models-dir", tmp_path / "none")
    assert result.exit_code == 1
    assert "student gguf" in result.output and "fail" in result.output
