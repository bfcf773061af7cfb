"""Constants the tests share (importable because pytest puts this folder on sys.path)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample"
