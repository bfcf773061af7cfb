"""`distill serve` (the service that owns a store) and `distill jobs submit|list|watch|cancel` (its thin client)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from distill.commands.options import DbOption, FormatOption
from distill.config_files import ConfigError, read_toml, table_of
from distill.output import OutputFormat, command_errors, console, errors, print_table
from distill.service.client import ServiceClient, ServiceRefused, ServiceUnavailable
from distill.settings import db_path
from distill.stage_configs import is_study

jobs_app = typer.Typer(no_args_is_help=True, help="Submit, list, watch and cancel the jobs of a `distill serve`.")
FAILURES = (ServiceUnavailable, ServiceRefused, ConfigError, ValueError, OSError)


def serve_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to bind; anything but 127.0.0.1/localhost needs DISTILL_TOKEN."
                                      )] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one; the address file beside the store says which)."
                                      )] = 8765,
) -> None:
    """Run the service: it holds the store, runs studies and stages as jobs, answers SQL while they write, and
    serves the dashboard. Ctrl-C stops it; a running job resumes at the next start."""
    from distill.service.server import ServiceError, serve

    with command_errors("serve", (ServiceError, OSError), "the service stopped; jobs left running resume at the "
                                                          "next start"):
        serve(db_path(db), host, port, os.environ.get("DISTILL_TOKEN") or None,
              say=lambda line: console.print(line, highlight=False, markup=False))


def _client(db: Path | None, study_db: Path | None = None) -> ServiceClient:
    store = db_path(db, study_db)
    client = ServiceClient.for_store(store)
    if client is None:
        raise ServiceUnavailable(f"no distill service holds {store}: start one with `distill serve --db {store}`")
    return client


@jobs_app.command("submit")
def submit_command(
    config_file: Annotated[Path, typer.Option("--config", help="A study file, or a file with one stage's table.")],
    stage: Annotated[list[str] | None, typer.Option(
        "--stage", help="A study file: run only this stage (repeatable). A stage table file: which stage it is "
                        "(corpus, levels, train or eval).")] = None,
    run: Annotated[str | None, typer.Option("--run", help="A stage table's run name.")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow its progress until it ends.")] = False,
    db: DbOption = None,
) -> None:
    """Submit a study (or some of its stages) or one stage to the service holding the store. Relative paths in the
    file are read from the service's working directory."""
    with command_errors("submit", FAILURES, "the job, if submitted, goes on in the service"):
        document = read_toml(config_file)
        if is_study(document):
            request = {"kind": "study", "config": document, "stages": stage or None}
            study_db = Path(document["db"]) if isinstance(document.get("db"), str) else None
        else:
            if not stage or len(stage) != 1 or run is None:
                raise ValueError("a stage table file needs one --stage (corpus, levels, train or eval) and --run")
            request = {"kind": stage[0], "run": run, "config": table_of(document, stage[0])[0]}
            study_db = None
        client = _client(db, study_db)
        job = client.submit(request)
        console.print(f"job {job['job_id']} queued: {job['kind']} {job['run_name']} "
                      f"({client.address.url}/jobs/{job['job_id']})", highlight=False, markup=False)
        if watch:
            _follow(client, job["job_id"])


@jobs_app.command("list")
def list_command(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Jobs, newest first, with their progress."""
    with command_errors("jobs list", FAILURES, "nothing changed"):
        jobs = _client(db).jobs()
    rows = [(j["job_id"], j["kind"], j["run_name"], j["status"], j.get("stage"), _progress(j), j["submitted_at"],
             j.get("error") or j.get("result")) for j in jobs]
    print_table(["job", "kind", "run", "status", "stage", "progress", "submitted", "result / error"], rows, output)


@jobs_app.command("watch")
def watch_command(job_id: Annotated[int, typer.Argument(help="The job.")], db: DbOption = None) -> None:
    """Follow a job's progress until it ends (exit 0 when done, 1 when it failed or was cancelled)."""
    with command_errors("watch", FAILURES, "the job goes on in the service"):
        _follow(_client(db), job_id)


@jobs_app.command("cancel")
def cancel_command(job_id: Annotated[int, typer.Argument(help="The job.")], db: DbOption = None) -> None:
    """Stop a job; everything it finished stays stored, and submitting it again resumes it."""
    with command_errors("cancel", FAILURES, "nothing changed"):
        job = _client(db).cancel(job_id)
    console.print(f"job {job_id}: {job['status']}{' (stopping)' if job.get('cancelling') else ''}",
                  highlight=False, markup=False)


def _progress(job: dict) -> str:
    p = job.get("progress") or {}
    if not p.get("total"):
        return ""
    counts = ", ".join(f"{n} {k}" for k, n in p.get("counts", {}).items())
    eta = f", ETA {p['eta_s']:.0f} s" if p.get("eta_s") is not None else ""
    return f"{p['done']}/{p['total']} ({counts}), {p.get('tokens') or 0:,} tokens{eta}"


def _follow(client: ServiceClient, job_id: int) -> None:
    last, shown = None, 0
    for job in client.events(job_id):
        for line in job.get("log", [])[shown:]:
            console.print(line, highlight=False, markup=False)
        shown = len(job.get("log", []))
        line = f"job {job_id} {job['status']}: {job.get('stage') or ''} {_progress(job)}".rstrip()
        if line != last:
            console.print(line, highlight=False, markup=False)
            last = line
        if job["status"] in ("done", "failed", "cancelled"):
            if job.get("error"):
                errors.print(f"job {job_id} failed: {job['error']}", highlight=False, markup=False)
            elif job.get("result"):
                console.print(job["result"], highlight=False, markup=False)
            if job["status"] != "done":
                raise typer.Exit(1)
            return


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.add_typer(jobs_app, name="jobs")
