"""`distill eval` and `distill report`: evaluate base, teacher and students on held-out problems; the study report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer

from distill.agents.endpoints import EndpointError, parse_endpoint
from distill.agents.prompts import PromptError
from distill.commands.options import (
    ConcurrencyOption,
    DbOption,
    EvalConfigOption,
    RpmOption,
    TokenBudgetOption,
    TpmOption,
    about,
    db_path,
    pacing_flags,
)
from distill.evaluation.config import EvalSettings
from distill.models.llama_server import LlamaServerError
from distill.models.registry import UnknownModelError
from distill.output import command_errors, console, errors, print_table
from distill.stage_configs import load_stage
from distill.store import Store, StoreError
from distill.study import load_study_config
from distill.training.config import TrainConfig

Opt = typer.Option
SUMMARY_COLUMNS = ("label", "seed", "problems", "correct", "incorrect", "undecided", "truncated", "judged",
                   "round(accuracy, 4) AS accuracy", "round(mean_words, 1) AS mean_words",
                   "round(mean_tokens, 1) AS mean_tokens")


def eval_command(
    run: Annotated[str, Opt("--run", help="The corpus run whose held-out test split is answered.")],
    config_file: EvalConfigOption = None,
    models: Annotated[str | None, Opt("--models", help=about(
        EvalSettings, "models", "base, teacher, student[:RUN[/LEVEL]] (comma-separated)"))] = None,
    split: Annotated[str | None, Opt("--split", help=about(EvalSettings, "split"))] = None,
    split_seed: Annotated[int | None, Opt("--split-seed", help=about(EvalSettings, "split_seed"))] = None,
    seeds: Annotated[str | None, Opt("--seeds", help="Student training seeds, e.g. 1,2,3 (default: all kept).")
                     ] = None,
    max_tokens: Annotated[int | None, Opt("--max-tokens", help=about(EvalSettings, "max_tokens"))] = None,
    temperature: Annotated[float | None, Opt("--temperature", help=about(EvalSettings, "temperature"))] = None,
    batch_size: Annotated[int | None, Opt("--batch-size", help=about(EvalSettings, "batch_size"))] = None,
    limit: Annotated[int | None, Opt("--limit", help=about(EvalSettings, "limit"))] = None,
    base_model: Annotated[str | None, Opt("--base-model", help=about(EvalSettings, "base_model"))] = None,
    teacher: Annotated[str | None, Opt("--teacher", help="Preset or MODEL@BASE_URL; default: the local teacher.")
                       ] = None,
    teacher_key_env: Annotated[str | None, Opt(help="Env var holding the teacher's API key.")] = None,
    judge: Annotated[str | None, Opt("--judge", help="LLM judge for answers the rule cannot decide: preset, "
                                                     "MODEL@BASE_URL, or 'local' (the local teacher).")] = None,
    judge_key_env: Annotated[str | None, Opt(help="Env var holding the judge's API key.")] = None,
    concurrency: ConcurrencyOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    token_budget: TokenBudgetOption = None,
    restart: Annotated[bool | None, Opt("--restart", help=about(EvalSettings, "restart"))] = None,
    db: DbOption = None,
) -> None:
    """Answer a held-out problem set with each model, grade every answer (rule, then judge), store it all."""
    from distill.evaluation.run import evaluate

    failures = (EndpointError, PromptError, StoreError, UnknownModelError, LlamaServerError, ValueError, OSError)
    with command_errors("eval", failures,
                        f"every stored answer is kept; rerun the same command to resume {run!r}"):
        loaded = load_stage("eval", config_file, {
            "run": run, "models": models, "split": split, "split_seed": split_seed, "max_tokens": max_tokens,
            "temperature": temperature, "batch_size": batch_size, "limit": limit, "base_model": base_model,
            "restart": restart, "seeds": [int(s) for s in seeds.split(",")] if seeds else None,
            "pacing": pacing_flags(concurrency, rpm, tpm, token_budget),
            "teacher": parse_endpoint(teacher, api_key_env=teacher_key_env) if teacher else None,
            "judge": "local" if judge == "local" else parse_endpoint(judge, api_key_env=judge_key_env) if judge
            else None})
        config = loaded.config
        with Store(loaded.db(db)) as store:
            outcome = evaluate(store, config, log=lambda line: console.print(line, highlight=False))
            rows = store.query(f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM eval_accuracy WHERE "
                               "list_contains(?, evaluation_id) ORDER BY evaluation_id", [outcome.evaluation_ids])
    console.print(f"{run}/{config.split}: {outcome.problems} problems; answered now: "
                  f"{sum(outcome.generated.values())}; re-graded by the current rule: {outcome.regraded}; "
                  f"judged: {outcome.judged}", highlight=False)
    if rows:
        print_table(list(rows[0]), [tuple(r.values()) for r in rows], title="Evaluation (view eval_accuracy)")
    console.print(f"report: distill report --run {run}", highlight=False)
    for line in outcome.errors[:10]:
        errors.print(f"  [red]failed[/red] {line}", highlight=False)
    if outcome.errors:
        raise typer.Exit(1)


def report_command(
    run: Annotated[str, Opt("--run", help="The run whose evaluations and training are reported.")],
    config_file: Annotated[Path | None, Opt("--config", help="A study file: its `out` and `db`.")] = None,
    out: Annotated[Path | None, Opt("--out", help="Output folder (default OUT/<run>/report, OUT the study's "
                                                  f"`out` or {TrainConfig.model_fields['out_dir'].default}).")] = None,
    db: DbOption = None,
) -> None:
    """Write report.md and a self-contained report.html (tables and PNG plots), regenerated from the store."""
    from distill.evaluation.report import build_report

    with command_errors("report", (ValueError, OSError), "rerun it"):
        study = load_study_config(config_file) if config_file else None
    folder = out or (study.out if study else TrainConfig.model_fields["out_dir"].default) / run / "report"
    try:
        with Store(db_path(db, study and study.db), read_only=True) as store:
            report = build_report(store, run, folder)
    except duckdb.CatalogException as exc:
        errors.print(f"[red]report failed:[/red] the store has no evaluation tables ({exc}): run `distill eval` first",
                     highlight=False)
        raise typer.Exit(2) from exc
    except (StoreError, OSError) as exc:
        errors.print(f"[red]report failed:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    console.print(f"report: {folder / 'report.md'}, {folder / 'report.html'} ({len(report.images)} plots: "
                  f"{', '.join(p.name for p in report.images)})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("report")(report_command)
