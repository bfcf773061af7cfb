"""Paths the tests share (import as tests.support.paths: pytest puts the repo root on sys.path)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "sample"
