"""No file in the repository keeps a merge's conflict markers (one reached the README once, unseen by any test)."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = re.compile(rb"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_conflict_markers_in_tracked_files():
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no list of tracked files")
    marked = [name for name in listed.decode().split("\0") if name and (REPO / name).is_file()
              and MARKER.search((REPO / name).read_bytes())]
    assert marked == []
