"""CLI options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distill.output import OutputFormat
from distill.settings import settings

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="The DuckDB store file (env DISTILL_DB; default ./distill.duckdb)."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output as a table, CSV or JSON.")]


def db_path(db: Path | None) -> Path:
    return db if db is not None else settings().db
