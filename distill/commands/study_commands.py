"""`distill study`: the whole study from one config file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distill.agents.endpoints import EndpointError
from distill.agents.prompts import PromptError
from distill.commands.options import DbOption
from distill.output import command_errors, console, print_table
from distill.progress import run_progress
from distill.store import StoreError
from distill.study import StudyConfigError, load_study_config, run_study


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def study_command(
    config_file: Annotated[Path, typer.Option("--config", help="The study's TOML file (see examples/demo.toml).")],
    db: DbOption = None,
) -> None:
    """Ingest, build the corpus, make levels, split, train, evaluate and report; a rerun resumes."""
    failures = (StudyConfigError, StoreError, EndpointError, PromptError, ValueError, RuntimeError, OSError)
    with command_errors("study", failures,
                        "everything finished is stored; rerun the same command to resume"):
        config = load_study_config(config_file, {"db": db})
        result = run_study(config, log=lambda line: console.print(line, highlight=False, markup=False),
                           progress=run_progress)
    rows = [(r["label"], r["seeds"], r["min_problems"], _percent(r["mean_accuracy"]),
             _percent(r["std_accuracy"]), f"{_percent(r['ci_low'])} .. {_percent(r['ci_high'])}",
             r["undecided"], r["truncated"], None if r["mean_words"] is None else round(r["mean_words"]))
            for r in result.headline]
    columns = ["model", "seeds", "problems", "accuracy (mean)", "std across seeds", "95% CI (bootstrap)",
               "undecided (all seeds)", "truncated (all seeds)", "mean words"]
    print_table(columns, rows, title=f"{config.name}: accuracy on the held-out {config.eval_config().split} split")
    for line in result.paired:
        console.print(line, highlight=False, markup=False)
    total = sum(result.seconds.values())
    console.print(f"stages: {', '.join(f'{k} {v:.0f} s' for k, v in result.seconds.items())}; total {total:.0f} s",
                  highlight=False)
    console.print(f"report: {result.report_dir / 'report.html'} (and report.md)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("study")(study_command)
