"""CLI options shared by several commands, declared once. Options that set a config field default to None (not
given: the config file or the model decides) and take their help, default included, from the model's field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from distill.graphs.runner import Pacing
from distill.output import OutputFormat
from distill.settings import Settings, db_path

__all__ = ["ConcurrencyOption", "CorpusConfigOption", "DbOption", "EvalConfigOption", "FormatOption",
           "LevelsConfigOption", "RpmOption", "SplitConfigOption", "TokenBudgetOption", "TpmOption",
           "TrainConfigOption", "about", "db_path", "pacing_flags", "sampling_flags", "shown"]


def about(model: type[BaseModel], field: str, text: str | None = None) -> str:
    """Help for an option that sets `model.field`: its description (or `text`) and the model's default."""
    info = model.model_fields[field]
    return f"{(text or info.description or field.replace('_', ' ')).rstrip('.')} (default {shown(model, field)})."


def shown(model: type[BaseModel], field: str) -> str:
    """The model's default as a flag would spell it: `none`, `1,2,3` for a list, the values of a table."""
    default = model.model_fields[field].get_default(call_default_factory=True)
    if isinstance(default, dict):
        default = list(default.values())
    return "none" if default is None else ",".join(map(str, default)) if isinstance(default, list) else str(default)


DbOption = Annotated[Path | None, typer.Option("--db", help=(
    "The DuckDB store file; else a study file's `db`, else env DISTILL_DB "
    f"(default {Settings.model_fields['db'].default})."))]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output as a table, CSV or JSON.")]


def config_option(table: str) -> Any:
    """--config of the stage command that reads the `[table]` table."""
    return Annotated[Path | None, typer.Option("--config", help=(
        f"A study file (examples/demo.toml), whose [{table}] table this command takes as `distill study` runs it, "
        f"or a TOML file with a [{table}] table (or just its keys); flags given override it."))]


CorpusConfigOption = config_option("corpus")
LevelsConfigOption = config_option("levels")
SplitConfigOption = config_option("split")
TrainConfigOption = config_option("train")
EvalConfigOption = config_option("eval")

ConcurrencyOption = Annotated[int | None, typer.Option(help=about(
    Pacing, "concurrency", "Work items in flight at once; 1 when the local teacher serves, unless given"))]
RpmOption = Annotated[float | None, typer.Option(help=about(Pacing, "rpm"))]
TpmOption = Annotated[float | None, typer.Option(help=about(Pacing, "tpm"))]
TokenBudgetOption = Annotated[int | None, typer.Option(help=about(Pacing, "token_budget"))]


def pacing_flags(concurrency: int | None, rpm: float | None, tpm: float | None,
                 token_budget: int | None) -> dict[str, Any]:
    return {"concurrency": concurrency, "rpm": rpm, "tpm": tpm, "token_budget": token_budget}


def sampling_flags(endpoint: BaseModel | None, field: str, temperature: float | None,
                   max_tokens: int | None) -> dict[str, Any]:
    """--temperature/--max-tokens: the configured endpoint's sampling, else the local teacher's."""
    sampling = {"temperature": temperature, "max_tokens": max_tokens}
    return {field: {"sampling": sampling}} if endpoint is not None else {"local_sampling": sampling}
