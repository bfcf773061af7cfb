"""`distill build` and `distill runs`: the corpus builder's commands."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from distill.agents.endpoints import EndpointError, SamplingParams, parse_endpoint
from distill.agents.prompts import PromptError
from distill.commands.options import DbOption, FormatOption, db_path
from distill.failures import print_failures
from distill.graphs.build import build_corpus
from distill.graphs.config import CorpusConfig
from distill.output import OutputFormat, command_errors, console, errors, print_table
from distill.progress import run_progress
from distill.store import Store, StoreError
from distill.store.corpus import resume_summary
from distill.store.queries import read_only_sql

Opt = typer.Option


def build_command(
    run: Annotated[str, Opt("--run", help="Run name; rerunning the same name resumes it.")],
    config_file: Annotated[Path | None, Opt("--config", help="TOML file with a [corpus] table.")] = None,
    source: Annotated[str | None, Opt(help="Only problems of this source.")] = None,
    limit: Annotated[int | None, Opt(help="The first N problems (in ingest order).")] = None,
    teacher: Annotated[str | None, Opt(help="Preset (deepseek-reasoner, ...) or MODEL@BASE_URL; "
                                            "default: the local teacher.")] = None,
    teacher_key_env: Annotated[str | None, Opt(help="Env var holding the teacher's API key.")] = None,
    critic: Annotated[str | None, Opt(help="Preset or MODEL@BASE_URL; default: the teacher.")] = None,
    critic_key_env: Annotated[str | None, Opt(help="Env var holding the critic's API key.")] = None,
    critic_mode: Annotated[str | None, Opt(help="rule | llm | cascade")] = None,
    max_attempts: Annotated[int | None, Opt(help="Attempts per problem before abstaining.")] = None,
    temperature: Annotated[float | None, Opt(help="Teacher sampling temperature.")] = None,
    max_tokens: Annotated[int | None, Opt(help="Teacher max tokens per reply.")] = None,
    prompts: Annotated[Path | None, Opt("--prompts", help="Folder with solver.md / critic.md.")] = None,
    solver_prompt: Annotated[Path | None, Opt(help="Solver prompt file (overrides --prompts).")] = None,
    critic_prompt: Annotated[Path | None, Opt(help="Critic prompt file (overrides --prompts).")] = None,
    concurrency: Annotated[int | None, Opt(help="Problems in flight at once (default 32).")] = None,
    rpm: Annotated[float | None, Opt(help="Requests per minute.")] = None,
    tpm: Annotated[float | None, Opt(help="Tokens per minute.")] = None,
    token_budget: Annotated[int | None, Opt(help="Stop starting requests after this many tokens.")] = None,
    include_duplicates: Annotated[bool, Opt("--include-duplicates", help="Also solve exact duplicates.")] = False,
    db: DbOption = None,
) -> None:
    """Build (or resume) a chain-of-thought corpus with the solver/critic loop."""
    failures = (ValidationError, EndpointError, PromptError, StoreError, ValueError, OSError)
    with command_errors("build", failures,
                        f"everything finished is stored; rerun the same command to resume run {run!r}"):
        config = corpus_config(config_file, {
            "source": source, "limit": limit, "critic_mode": critic_mode, "max_attempts": max_attempts,
            "prompts_dir": prompts, "solver_prompt": solver_prompt, "critic_prompt": critic_prompt,
            "concurrency": concurrency, "rpm": rpm, "tpm": tpm, "token_budget": token_budget,
            "include_duplicates": include_duplicates or None,
        }, teacher, teacher_key_env, critic, critic_key_env, temperature, max_tokens)
        with Store(db_path(db)) as store:
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


def corpus_config(config_file: Path | None, overrides: dict[str, Any], teacher: str | None,
                  teacher_key_env: str | None, critic: str | None, critic_key_env: str | None,
                  temperature: float | None, max_tokens: int | None) -> CorpusConfig:
    """The [corpus] table of the config file, with CLI flags on top."""
    values: dict[str, Any] = {}
    if config_file is not None:
        document = tomllib.loads(config_file.read_text(encoding="utf-8"))
        values = dict(document.get("corpus", document))
    values.update({k: v for k, v in overrides.items() if v is not None})
    sampling = {k: v for k, v in {"temperature": temperature, "max_tokens": max_tokens}.items() if v is not None}
    if teacher:
        values["teacher"] = parse_endpoint(teacher, api_key_env=teacher_key_env,
                                           sampling=SamplingParams(**sampling) if sampling else None)
    elif sampling and values.get("teacher"):
        values["teacher"] = {**values["teacher"], "sampling": {**values["teacher"].get("sampling", {}), **sampling}}
    elif sampling:
        values["local_sampling"] = {**values.get("local_sampling", {}), **sampling}
    if critic:
        values["critic"] = parse_endpoint(critic, api_key_env=critic_key_env)
    return CorpusConfig(**values)


def runs_command(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Corpus runs with their accept rate, attempts and tokens."""
    try:
        table = read_only_sql(db_path(db), "SELECT * FROM run_summary ORDER BY created_at")
    except StoreError as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    print_table(table.columns, table.rows, output, title="Corpus runs")


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)
    app.command("runs")(runs_command)
