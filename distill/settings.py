"""Settings from the environment (DISTILL_*), overridable by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISTILL_", extra="forbid")

    db: Path = Path("distill.duckdb")


def settings() -> Settings:
    return Settings()
