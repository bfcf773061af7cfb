"""`distill levels`: reasoning levels R1..R6 for a corpus run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from distill.agents.compressor import DEFAULT_RATIOS
from distill.agents.endpoints import EndpointError, SamplingParams, parse_endpoint
from distill.agents.prompts import PromptError
from distill.commands.options import DbOption, db_path
from distill.failures import print_failures
from distill.graphs.build import build_levels
from distill.graphs.levels import LevelsConfig
from distill.graphs.runner import Pacing
from distill.output import command_errors, console, errors, print_table
from distill.progress import run_progress
from distill.store import Store, StoreError

Opt = typer.Option


def levels_command(
    run: Annotated[str, Opt("--run", help="The corpus run whose accepted rows get levels.")],
    compressor: Annotated[str | None, Opt(help="Preset or MODEL@BASE_URL; default: the local teacher.")] = None,
    compressor_key_env: Annotated[str | None, Opt(help="Env var holding the compressor's API key.")] = None,
    prompts: Annotated[Path | None, Opt("--prompts", help="Folder with compressor.md.")] = None,
    compressor_prompt: Annotated[Path | None, Opt(help="Compressor prompt file (overrides --prompts).")] = None,
    ratios: Annotated[str | None, Opt(help="Word budgets of R2..R6 as fractions of R1, e.g. 0.6,0.45,0.3,0.18,0.1")
                      ] = None,
    max_attempts: Annotated[int | None, Opt(help="Tries per level before it is recorded as failed.")] = None,
    up_to: Annotated[str | None, Opt(help="The last level to make (R2..R6, default R6).")] = None,
    limit: Annotated[int | None, Opt(help="The first N corpus rows.")] = None,
    temperature: Annotated[float | None, Opt(help="Compressor sampling temperature.")] = None,
    max_tokens: Annotated[int | None, Opt(help="Compressor max tokens per reply.")] = None,
    concurrency: Annotated[int | None, Opt(help="Rows in flight at once (default 32; 1 for the local teacher).")
                           ] = None,
    rpm: Annotated[float | None, Opt(help="Requests per minute.")] = None,
    tpm: Annotated[float | None, Opt(help="Tokens per minute.")] = None,
    token_budget: Annotated[int | None, Opt(help="Stop starting requests after this many tokens.")] = None,
    db: DbOption = None,
) -> None:
    """Compress each accepted reasoning into levels R2..R6 (checked: shorter, same correct answer, not cut off)."""
    failures = (ValidationError, EndpointError, PromptError, StoreError, ValueError, OSError)
    with command_errors("levels", failures,
                        f"everything finished is stored; rerun the same command to resume {run!r}"):
        values: dict = {"prompts_dir": prompts, "compressor_prompt": compressor_prompt, "max_attempts": max_attempts,
                        "limit": limit, "up_to": up_to}
        if ratios:
            parts = [float(x) for x in ratios.split(",")]
            if len(parts) != len(DEFAULT_RATIOS):
                raise ValueError(f"--ratios needs {len(DEFAULT_RATIOS)} numbers (R2..R6), got {len(parts)}")
            values["ratios"] = dict(zip(DEFAULT_RATIOS, parts, strict=True))
        sampling = {k: v for k, v in {"temperature": temperature, "max_tokens": max_tokens}.items() if v is not None}
        if compressor:
            values["compressor"] = parse_endpoint(compressor, api_key_env=compressor_key_env,
                                                  sampling=SamplingParams(**sampling) if sampling else None)
        elif sampling:
            values["local_sampling"] = sampling
        pacing = {k: v for k, v in {"concurrency": concurrency, "rpm": rpm, "tpm": tpm,
                                    "token_budget": token_budget}.items() if v is not None}
        config = LevelsConfig(**{k: v for k, v in values.items() if v is not None}, pacing=Pacing(**pacing))
        with Store(db_path(db)) as store, run_progress(f"levels {run}") as update:
            tally = build_levels(store, run, config, update)
            summary = store.query("SELECT * FROM level_summary WHERE run_name = ? ORDER BY level", [run])
    console.print(f"levels {run}: {tally.complete} rows complete, {tally.partial} with failed levels, "
                  f"{tally.failed} failed of {tally.total} to do; {tally.tokens:,} tokens", highlight=False)
    if summary:
        print_table(list(summary[0]), [tuple(r.values()) for r in summary], title="Levels (view level_summary)")
    print_failures(tally, errors, "row")
    if tally.failed or tally.stopped:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("levels")(levels_command)
