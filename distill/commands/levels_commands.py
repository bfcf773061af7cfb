"""`distill levels`: reasoning levels R1..R6 for a corpus run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from distill.agents.compressor import DEFAULT_RATIOS
from distill.agents.endpoints import EndpointError, parse_endpoint
from distill.agents.prompts import PromptError
from distill.commands.options import (
    ConcurrencyOption,
    DbOption,
    LevelsConfigOption,
    RpmOption,
    TokenBudgetOption,
    TpmOption,
    about,
    pacing_flags,
    sampling_flags,
)
from distill.config_files import with_flags
from distill.failures import print_failures
from distill.graphs.build import build_levels
from distill.graphs.levels import LevelsConfig
from distill.output import command_errors, console, errors, print_table
from distill.progress import run_progress
from distill.stage_configs import load_stage
from distill.store import Store, StoreError

Opt = typer.Option


def levels_command(
    run: Annotated[str, Opt("--run", help="The corpus run whose accepted rows get levels.")],
    config_file: LevelsConfigOption = None,
    compressor: Annotated[str | None, Opt(help="Preset or MODEL@BASE_URL; default: the local teacher.")] = None,
    compressor_key_env: Annotated[str | None, Opt(help="Env var holding the compressor's API key.")] = None,
    prompts: Annotated[Path | None, Opt("--prompts", help="Folder with compressor.md.")] = None,
    compressor_prompt: Annotated[Path | None, Opt(help="Compressor prompt file (overrides --prompts).")] = None,
    ratios: Annotated[str | None, Opt(help=about(LevelsConfig, "ratios", "Word budgets of R2..R6 as fractions of "
                                                                         "R1, comma-separated"))] = None,
    max_attempts: Annotated[int | None, Opt(help=about(LevelsConfig, "max_attempts", "Tries per level before it "
                                                                                     "is recorded as failed"))] = None,
    up_to: Annotated[str | None, Opt(help=about(LevelsConfig, "up_to"))] = None,
    limit: Annotated[int | None, Opt(help=about(LevelsConfig, "limit", "The first N corpus rows"))] = None,
    temperature: Annotated[float | None, Opt(help="Compressor sampling temperature.")] = None,
    max_tokens: Annotated[int | None, Opt(help="Compressor max tokens per reply.")] = None,
    concurrency: ConcurrencyOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    token_budget: TokenBudgetOption = None,
    db: DbOption = None,
) -> None:
    """Compress each accepted reasoning into levels R2..R6 (checked: shorter, same correct answer, not cut off)."""
    failures = (EndpointError, PromptError, StoreError, ValueError, OSError)
    with command_errors("levels", failures,
                        f"everything finished is stored; rerun the same command to resume {run!r}"):
        flags: dict[str, Any] = {
            "prompts_dir": prompts, "compressor_prompt": compressor_prompt, "max_attempts": max_attempts,
            "limit": limit, "up_to": up_to, "pacing": pacing_flags(concurrency, rpm, tpm, token_budget),
            "compressor": parse_endpoint(compressor, api_key_env=compressor_key_env) if compressor else None}
        if ratios:
            parts = [float(x) for x in ratios.split(",")]
            if len(parts) != len(DEFAULT_RATIOS):
                raise ValueError(f"--ratios needs {len(DEFAULT_RATIOS)} numbers (R2..R6), got {len(parts)}")
            flags["ratios"] = dict(zip(DEFAULT_RATIOS, parts, strict=True))
        loaded = load_stage("levels", config_file, flags)
        config = with_flags(loaded.config,
                            sampling_flags(loaded.config.compressor, "compressor", temperature, max_tokens))
        with Store(loaded.db(db)) as store, run_progress(f"levels {run}") as update:
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
