"""What every stored run and ingest records about the software that produced it."""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

# Packages whose versions decide results; recorded in every run manifest.
TRACKED_PACKAGES = (
    "distill", "duckdb", "langgraph", "langchain-core", "openai", "aiolimiter",
    "math-verify", "mlx", "mlx-lm", "transformers", "gguf", "llama-cpp-python",
)


def distill_version() -> str:
    try:
        return metadata.version("distill")
    except metadata.PackageNotFoundError:
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@cache
def git_sha(directory: str | None = None) -> str | None:
    """The commit of the distill checkout (with '-dirty' when it has uncommitted changes), if it is one."""
    where = Path(directory) if directory else Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha
