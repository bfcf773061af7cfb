"""`distill ingest`, `distill problems`, `distill sql`: the store's commands."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from distill.commands.options import DbOption, FormatOption, about, db_path
from distill.config_files import FLAGS, merged, validated
from distill.output import OutputFormat, command_errors, console, errors, print_table
from distill.reads import read_sql
from distill.stage_configs import load_inputs
from distill.store import Store, StoreError
from distill.store.ingest import FORMATS, IngestError, IngestFailed, IngestReport
from distill.store.queries import PROBLEM_COUNTS_SQL, REJECT_COUNTS_SQL
from distill.study import InputSet

InputFormat = Enum("InputFormat", {name: name for name in FORMATS}, type=str)


def ingest_command(
    path: Annotated[Path | None, typer.Argument(help="A problem file, or a folder of them.")] = None,
    input_format: Annotated[InputFormat | None, typer.Option("--format", help="The file format.")] = None,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="A study file (or a file of [[inputs]] entries): ingest every entry, generating first "
                         "where asked; flags given override each entry.")] = None,
    source: Annotated[str | None, typer.Option(help=about(InputSet, "source"))] = None,
    question_field: Annotated[str | None, typer.Option(help=about(InputSet, "question_field"))] = None,
    answer_field: Annotated[str | None, typer.Option(help=about(InputSet, "answer_field"))] = None,
    id_field: Annotated[str | None, typer.Option(help=about(InputSet, "id_field"))] = None,
    skip_invalid: Annotated[bool | None, typer.Option("--skip-invalid", help=about(InputSet, "skip_invalid"))
                            ] = None,
    max_question_chars: Annotated[int | None, typer.Option(help=about(InputSet, "max_question_chars"))] = None,
    max_answer_chars: Annotated[int | None, typer.Option(help=about(InputSet, "max_answer_chars"))] = None,
    db: DbOption = None,
) -> None:
    """Ingest problems into the store (idempotent; changes are recorded as updates)."""
    flags = {"source": source, "question_field": question_field, "answer_field": answer_field, "id_field": id_field,
             "skip_invalid": skip_invalid, "max_question_chars": max_question_chars,
             "max_answer_chars": max_answer_chars}
    with command_errors("ingest", (IngestFailed, IngestError, StoreError, ValueError, OSError), "rerun it"):
        if config_file is not None:
            if path is not None or input_format is not None:
                raise ValueError("give PATH and --format, or --config, not both")
            loaded = load_inputs(config_file, flags)
            inputs, store_path = loaded.config.inputs, loaded.db(db)
        elif path is None or input_format is None:
            raise ValueError("give PATH and --format (or --config FILE with [[inputs]])")
        else:
            inputs = [validated(InputSet, merged({"path": path, "format": input_format.value}, flags), FLAGS)]
            store_path = db_path(db)
        with Store(store_path) as store:
            for item in inputs:
                print_report(item.ingest(store))


def print_report(report: IngestReport) -> None:
    console.print(
        f"ingest #{report.ingest_id} into [bold]{report.source}[/bold] from {len(report.files)} file(s): "
        f"{report.inserted} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.rejects)} rejected; {report.placeholders} placeholders in these files; "
        f"{report.duplicates} duplicates in the store",
        highlight=False,
    )
    for change in report.updates:
        console.print(f"  updated {change.problem_id} {change.field}: "
                      f"{change.old_value!r} -> {change.new_value!r}", highlight=False)
    for reject in report.rejects:
        console.print(f"  [yellow]rejected[/yellow] {reject}", highlight=False)


def problems_command(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Problem counts by source, year, section and status."""
    try:
        counts = read_sql(db_path(db), PROBLEM_COUNTS_SQL)
        rejects = read_sql(db_path(db), REJECT_COUNTS_SQL)
    except StoreError as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    print_table(counts.columns, counts.rows, output, title="Problems (usable = not a placeholder nor a duplicate)")
    if rejects.rows and output is OutputFormat.table:
        print_table(rejects.columns, rejects.rows, output, title="Rejected records (see table ingest_rejects)")


def sql_command(
    query: Annotated[str, typer.Argument(help="SELECT statement(s); writes are refused.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Read-only SQL over the store (through `distill serve` when one holds it, so it answers while runs write)."""
    try:
        table = read_sql(db_path(db), query)
    except StoreError as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    print_table(table.columns, table.rows, output)


def generate_command(
    out: Annotated[Path, typer.Argument(help="The JSONL file to write (id, question, answer, section).")],
    count: Annotated[int, typer.Option(help="How many distinct problems.")] = 500,
    seed: Annotated[int, typer.Option(help="The same seed gives the same problems.")] = 0,
    families: Annotated[str | None, typer.Option(help="Comma-separated families (default: all).")] = None,
) -> None:
    """Write problems from the bundled generator of competition-style families; ingest with --format jsonl."""
    from distill.store.ingest.families import FAMILIES, write_jsonl

    chosen = [f.strip() for f in families.split(",") if f.strip()] if families else None
    with command_errors("generate", (ValueError, OSError), "nothing was written"):
        written = write_jsonl(out, count, seed, chosen)
    console.print(f"{'wrote' if written else 'unchanged'}: {out} ({count} problems, seed {seed}; families "
                  f"{', '.join(chosen or FAMILIES)})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
    app.command("ingest")(ingest_command)
    app.command("problems")(problems_command)
    app.command("sql")(sql_command)
