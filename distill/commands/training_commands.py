"""`distill split`, `distill export`, `distill train`, `distill trainings`: the training stage's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from distill.commands.options import DbOption, FormatOption, db_path
from distill.models.registry import UnknownModelError
from distill.output import OutputFormat, command_errors, console, errors, print_table
from distill.store import Store, StoreError
from distill.store.queries import read_only_sql
from distill.training.config import load_train_config
from distill.training.contamination import leak_summary
from distill.training.export import ContaminationError, export_level
from distill.training.memory import InsufficientMemory
from distill.training.splits import make_split

Opt = typer.Option
RunOption = Annotated[str, Opt("--run", help="The corpus run.")]
LevelOption = Annotated[str, Opt("--level", help="Reasoning level R1..R6 (R1: the accepted reasoning).")]
SplitSeedOption = Annotated[int | None, Opt("--split-seed", help="Which split set (default 0).")]
AllowLeaksOption = Annotated[bool, Opt("--allow-leaks", help="Export even when training questions overlap "
                                                             "held-out ones.")]


def split_command(
    run: RunOption,
    seed: Annotated[int, Opt("--seed", help="Split seed (training seeds never change the split).")] = 0,
    valid: Annotated[float, Opt(help="Fraction of the problems with training text (outside test) for valid.")] = 0.1,
    test: Annotated[float, Opt(help="Fraction of all active problems of the run's sources held out.")] = 0.1,
    force: Annotated[bool, Opt("--force", help="Replace an existing split set even if its test set changes.")] = False,
    db: DbOption = None,
) -> None:
    """Split a corpus run's problems into train/valid/test (by problem, clusters kept together, stratified)."""
    try:
        with Store(db_path(db)) as store:
            result = make_split(store, run, seed, valid=valid, test=test, force=force)
    except (StoreError, ValueError) as exc:
        errors.print(f"[red]split failed:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    counts = result.counts
    console.print(f"run {run} split seed {seed} ({', '.join(result.sources)}): {counts['train']} train, "
                  f"{counts['valid']} valid, {counts['test']} test, {counts['unused']} unused (no text)"
                  f"{' (replaced the earlier split set; same test set)' if result.replaced else ''}", highlight=False)
    if result.leaks:
        errors.print(f"[yellow]contamination:[/yellow] {leak_summary(result.leaks)}\nexport will refuse unless "
                     "--allow-leaks", highlight=False)
    else:
        console.print("contamination check: no 13-gram overlap with the test split or MATH-500 questions")


def export_command(
    run: RunOption,
    level: LevelOption = "R1",
    split_seed: SplitSeedOption = None,
    out: Annotated[Path, Opt("--out", help="Output root: OUT/<run>/data/split-<seed>/<level>/.")] = Path("runs"),
    allow_leaks: AllowLeaksOption = False,
    db: DbOption = None,
) -> None:
    """Write mlx-lm chat JSONL (train/valid/test) for one level and record it in the store."""
    try:
        with Store(db_path(db)) as store:
            result = export_level(store, run, level, split_seed or 0, out_dir=out, allow_leaks=allow_leaks)
    except (StoreError, ValueError, OSError) as exc:
        errors.print(f"[red]export failed:[/red] {exc}", highlight=False)
        raise typer.Exit(3 if isinstance(exc, ContaminationError) else 2) from exc
    if result.created_split:
        console.print(f"made split seed {split_seed or 0} (valid 0.1, test 0.1): `distill split` to choose")
    console.print(f"export {result.export_id}{' (unchanged)' if result.reused else ''}: {result.rows['train']} train, "
                  f"{result.rows['valid']} valid, {result.rows['test']} test lines from {result.text_source} -> "
                  f"{result.folder}", highlight=False)
    missing = {k: v for k, v in result.missing_text.items() if v}
    if missing:
        console.print(f"without text at {level} (left out): {missing}", highlight=False)
    if result.stale:
        errors.print(f"[yellow]{result.stale} problems have text but are not trained on in this split set (the corpus "
                     "grew): rerun `distill split` (same seed keeps the test set)[/yellow]", highlight=False)
    if result.leaks:
        errors.print(f"[yellow]exported with leaks:[/yellow] {leak_summary(result.leaks)}", highlight=False)


def train_command(
    run: RunOption,
    level: LevelOption = "R1",
    seeds: Annotated[str | None, Opt("--seeds", help="Comma-separated training seeds (default 1,2,3).")] = None,
    iters: Annotated[int | None, Opt(help="Iterations per seed (default 1000).")] = None,
    config_file: Annotated[Path | None, Opt("--config", help="TOML file with a [train] table.")] = None,
    model: Annotated[str | None, Opt(help="'student' or an MLX model directory.")] = None,
    split_seed: SplitSeedOption = None,
    batch_size: Annotated[int | None, Opt(help="Batch size (default 4).")] = None,
    learning_rate: Annotated[float | None, Opt(help="Learning rate (default 1e-5).")] = None,
    steps_per_eval: Annotated[int | None, Opt(help="Validate and checkpoint every N iterations (default 50).")] = None,
    patience: Annotated[int | None, Opt(help="Early stop after N evaluations without improvement (default 5).")] = None,
    max_seq_length: Annotated[int | None, Opt(help="Tokens per example (default: the longest, at most 2048).")] = None,
    out: Annotated[Path | None, Opt("--out", help="Output root (default ./runs).")] = None,
    restart: Annotated[bool, Opt("--restart", help="Discard existing training runs of these seeds.")] = False,
    allow_leaks: AllowLeaksOption = False,
    db: DbOption = None,
) -> None:
    """LoRA-train the student on one level, one adapter per seed (best validation kept; resumable)."""
    from distill.training.train import train_level

    failures = (ValidationError, StoreError, UnknownModelError, InsufficientMemory, ValueError, OSError)
    with command_errors("train", failures,
                        f"rerun the same command to resume run {run!r} {level} from its last checkpoint",
                        {ContaminationError: 3, InsufficientMemory: 3}):
        config = load_train_config(config_file, {
            "seeds": [int(s) for s in seeds.split(",") if s.strip()] if seeds else None, "iters": iters,
            "model": model, "split_seed": split_seed, "batch_size": batch_size, "learning_rate": learning_rate,
            "steps_per_eval": steps_per_eval, "patience": patience, "max_seq_length": max_seq_length, "out_dir": out})
        with Store(db_path(db)) as store:
            outcomes = train_level(store, run, level, config, restart=restart, allow_leaks=allow_leaks,
                                   log=lambda line: console.print(line, highlight=False, markup=False))
    rows = [(o.seed, o.status + (" (already)" if o.skipped else ""), o.best_iteration,
             None if o.best_val_loss is None else round(o.best_val_loss, 4), o.last_iteration, round(o.seconds, 1),
             None if o.seconds_per_iteration is None else round(o.seconds_per_iteration, 3), str(o.adapter_dir))
            for o in outcomes]
    print_table(["seed", "status", "best_iter", "best_val_loss", "last_iter", "seconds", "s_per_iter", "adapter"],
                rows, OutputFormat.table, title=f"{run} {level}")


def trainings_command(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Training runs with their best iteration, val loss and adapter."""
    try:
        table = read_only_sql(db_path(db), "SELECT training_id, run_name, level, split_seed, seed, status, "
                                           "best_iteration, round(best_val_loss, 4) AS best_val_loss, last_iteration, "
                                           "iters, round(seconds, 1) AS seconds, adapter_dir FROM training_runs "
                                           "ORDER BY training_id")
    except StoreError as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    print_table(table.columns, table.rows, output, title="Training runs")


def register(app: typer.Typer) -> None:
    app.command("split")(split_command)
    app.command("export")(export_command)
    app.command("train")(train_command)
    app.command("trainings")(trainings_command)
