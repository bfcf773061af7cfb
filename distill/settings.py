"""Settings from the environment (DISTILL_*): the one place that reads them.

Precedence everywhere: a CLI flag, then the config file (a study's `db`), then the environment, then the default
here. `DISTILL_DB` is the store file; `DISTILL_MODELS_DIR` the models directory (default
`$XDG_CACHE_HOME/distill/models`, else `~/.cache/distill/models`).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISTILL_", env_ignore_empty=True, extra="forbid")

    db: Path = Field(Path("distill.duckdb"), description="The DuckDB store file (env DISTILL_DB).")
    models_dir: Path = Field(default_factory=lambda: user_cache() / "distill" / "models",
                             description="Where the default models live (env DISTILL_MODELS_DIR).")


def settings() -> Settings:
    """Read afresh each call, so a changed environment (tests, `distill serve` jobs) is seen."""
    return Settings()


def db_path(*choices: Path | str | None) -> Path:
    """The first given of `choices` (a flag, then a config file's value), else $DISTILL_DB, else the default."""
    chosen = next((c for c in choices if c is not None), None)
    return Path(chosen) if chosen is not None else settings().db


def models_dir(flag: Path | str | None = None) -> Path:
    """The models directory: the flag, else $DISTILL_MODELS_DIR, else the user's cache."""
    return Path(flag if flag is not None else settings().models_dir).expanduser()
