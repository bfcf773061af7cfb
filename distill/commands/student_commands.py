"""`distill student export|exports`: a trained student as an MLX folder, a GGUF file or a PEFT adapter."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import duckdb
import typer

from distill.commands.options import DbOption, FormatOption, db_path
from distill.models.lora_fuse import StudentExportError
from distill.output import OutputFormat, command_errors, console, errors, print_table
from distill.reads import read_sql
from distill.store import Store, StoreError

Opt = typer.Option
student_app = typer.Typer(no_args_is_help=True, help="Trained students, exported for other tools.")


class ExportFormat(StrEnum):
    mlx = "mlx"
    gguf = "gguf"
    peft = "peft"


class GgufType(StrEnum):
    f16 = "f16"
    f32 = "f32"


@student_app.command("export")
def export_command(
    run: Annotated[str, typer.Argument(help="The corpus run the student was trained on.")],
    out: Annotated[Path, typer.Argument(help="Where to write: a folder (mlx, peft) or a .gguf file (gguf).")],
    to: Annotated[ExportFormat, Opt("--to", help="mlx: the adapter fused into the base, an MLX folder; gguf: the "
                                    "fused model as one GGUF file (llama.cpp, Ollama); peft: the adapter as a PEFT "
                                    "folder (PEFT, vLLM --lora-modules).")],
    level: Annotated[str, Opt("--level", help="Reasoning level R1..R6.")] = "R1",
    seed: Annotated[int, Opt("--seed", help="The training seed.")] = 1,
    split_seed: Annotated[int, Opt("--split-seed", help="The split set the student was trained on.")] = 0,
    dtype: Annotated[GgufType, Opt("--dtype", help="gguf only: float type of the matrices (norms stay f32).")
                     ] = GgufType.f16,
    base_model_name: Annotated[str | None, Opt("--base-model-name", help="peft only: base_model_name_or_path to "
                                               "write, e.g. HuggingFaceTB/SmolLM2-135M-Instruct (default: the "
                                               "local base folder).")] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace OUT if it exists.")] = False,
    db: DbOption = None,
) -> None:
    """Export the kept (best-validation) adapter of RUN LEVEL SEED, and record the export in the store."""
    from distill.training.student_export import export_student

    with command_errors("student export", (StudentExportError, StoreError, OSError),
                        "nothing was recorded; OUT is written completely or not at all"):
        path = db_path(db)
        if not path.exists():
            raise StoreError(f"no store at {path} (--db, or env DISTILL_DB)")
        with Store(path) as store:
            result = export_student(store, run, level, seed, to.value, out, split_seed=split_seed,
                                    dtype=dtype.value, base_model_name=base_model_name, overwrite=overwrite,
                                    log=lambda line: errors.print(line, highlight=False, markup=False))
    kind = f"{to.value} ({dtype.value})" if to is ExportFormat.gguf else to.value
    console.print(f"student export {result.student_export_id}: {run} {level} seed {seed} (adapter of iteration "
                  f"{result.best_iteration}, sha256 {result.adapter_sha256[:12]}) as {kind} -> {result.path} in "
                  f"{result.seconds:.1f} s", highlight=False, markup=False)


@student_app.command("exports")
def exports_command(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Every student export with its source training run and adapter."""
    try:
        table = read_sql(db_path(db), "SELECT student_export_id, run_name, level, split_seed, seed, format, "
                                           "dtype, best_iteration, left(adapter_sha256, 12) AS adapter_sha256, path, "
                                           "created_at FROM student_exports ORDER BY student_export_id")
    except (StoreError, duckdb.CatalogException) as exc:  # a store no command has migrated to 0009 yet
        errors.print(f"[red]{exc}[/red]", highlight=False, markup=False)
        raise typer.Exit(2) from exc
    print_table(table.columns, table.rows, output, title="Student exports")


def register(app: typer.Typer) -> None:
    app.add_typer(student_app, name="student")
