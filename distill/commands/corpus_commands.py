"""`distill build` and `distill runs`: the corpus builder's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distill.agents.endpoints import EndpointError, parse_endpoint
from distill.agents.prompts import PromptError
from distill.commands.options import (
    ConcurrencyOption,
    CorpusConfigOption,
    DbOption,
    FormatOption,
    RpmOption,
    TokenBudgetOption,
    TpmOption,
    about,
    db_path,
    pacing_flags,
    sampling_flags,
)
from distill.config_files import with_flags
from distill.failures import print_failures
from distill.graphs.build import build_corpus
from distill.graphs.config import CorpusConfig
from distill.output import OutputFormat, command_errors, console, errors, print_table
from distill.progress import run_progress
from distill.reads import read_sql
from distill.stage_configs import load_stage
from distill.store import Store, StoreError
from distill.store.corpus import resume_summary

Opt = typer.Option


def build_command(
    run: Annotated[str, Opt("--run", help="Run name; rerunning the same name resumes it.")],
    config_file: CorpusConfigOption = None,
    source: Annotated[str | None, Opt(help="Only problems of this source (default: all).")] = None,
    limit: Annotated[int | None, Opt(help=about(CorpusConfig, "limit"))] = None,
    teacher: Annotated[str | None, Opt(help="Preset (deepseek-reasoner, ...) or MODEL@BASE_URL; "
                                            "default: the local teacher.")] = None,
    teacher_key_env: Annotated[str | None, Opt(help="Env var holding the teacher's API key.")] = None,
    critic: Annotated[str | None, Opt(help="Preset or MODEL@BASE_URL; default: the teacher.")] = None,
    critic_key_env: Annotated[str | None, Opt(help="Env var holding the critic's API key.")] = None,
    critic_mode: Annotated[str | None, Opt(help=about(CorpusConfig, "critic_mode", "rule | llm | cascade"))] = None,
    max_attempts: Annotated[int | None, Opt(help=about(CorpusConfig, "max_attempts", "Attempts per problem "
                                                                                      "before abstaining"))] = None,
    temperature: Annotated[float | None, Opt(help="Teacher sampling temperature.")] = None,
    max_tokens: Annotated[int | None, Opt(help="Teacher max tokens per reply.")] = None,
    prompts: Annotated[Path | None, Opt("--prompts", help="Folder with solver.md / critic.md.")] = None,
    solver_prompt: Annotated[Path | None, Opt(help="Solver prompt file (overrides --prompts).")] = None,
    critic_prompt: Annotated[Path | None, Opt(help="Critic prompt file (overrides --prompts).")] = None,
    concurrency: ConcurrencyOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    token_budget: TokenBudgetOption = None,
    include_duplicates: Annotated[bool | None, Opt("--include-duplicates", help=about(
        CorpusConfig, "include_duplicates"))] = None,
    db: DbOption = None,
) -> None:
    """Build (or resume) a chain-of-thought corpus with the solver/critic loop."""
    failures = (EndpointError, PromptError, StoreError, ValueError, OSError)
    with command_errors("build", failures,
                        f"everything finished is stored; rerun the same command to resume run {run!r}"):
        teacher_endpoint = parse_endpoint(teacher, api_key_env=teacher_key_env) if teacher else None
        loaded = load_stage("corpus", config_file, {
            "source": source, "limit": limit, "critic_mode": critic_mode, "max_attempts": max_attempts,
            "prompts_dir": prompts, "solver_prompt": solver_prompt, "critic_prompt": critic_prompt,
            "include_duplicates": include_duplicates, "teacher": teacher_endpoint,
            "critic": parse_endpoint(critic, api_key_env=critic_key_env) if critic else None,
            "pacing": pacing_flags(concurrency, rpm, tpm, token_budget)})
        config = with_flags(loaded.config, sampling_flags(loaded.config.teacher, "teacher", temperature, max_tokens))
        with Store(loaded.db(db)) as store:
            resumed = resume_summary(store, run)
            if resumed:
                console.print(f"resuming run {run}: {resumed['done']} problem(s) already decided "
                              f"({resumed['accepted']} accepted, {resumed['abstained']} abstained), "
                              f"{resumed['failed']} failed before (retried now); {resumed['attempts']:,} attempts and "
                              f"{resumed['tokens']:,} tokens stored", highlight=False)
            with run_progress(f"build {run}") as update:
                tally = build_corpus(store, run, config, update)
    console.print(f"run {run}: {tally.accepted} accepted, {tally.abstained} abstained, {tally.failed} failed "
                  f"of {tally.total} to do; {tally.tokens:,} tokens in the run "
                  f"({tally.tokens - tally.tokens_at_start:,} by this command)", highlight=False)
    print_failures(tally, errors, "problem")
    if tally.stopped:
        errors.print(f"[yellow]stopped early:[/yellow] {tally.stopped}; rerun with a larger --token-budget")
    if tally.failed or tally.stopped:
        raise typer.Exit(1)


def runs_command(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Corpus runs with their accept rate, attempts and tokens."""
    try:
        table = read_sql(db_path(db), "SELECT * FROM run_summary ORDER BY created_at")
    except StoreError as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    print_table(table.columns, table.rows, output, title="Corpus runs")


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)
    app.command("runs")(runs_command)
