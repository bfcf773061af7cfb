"""Shared fixtures: a fresh store, the ../shared data (skipped with a reason when absent), the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from distill.store import Store
from typer.testing import CliRunner

from tests.support.paths import REPO


def shared_data_dir() -> Path:
    return Path(os.environ.get("DISTILL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "obryan").is_dir():
        pytest.skip(f"real data not found at {path} (../shared/data beside the repo, or set DISTILL_SHARED_DATA)")
    return path


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "test.duckdb") as opened:
        yield opened


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke `distill ...` in-process against a store in tmp_path; returns the click Result."""
    from distill.cli import app

    monkeypatch.setenv("DISTILL_DB", str(tmp_path / "cli.duckdb"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
