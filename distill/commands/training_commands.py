"""`distill split`, `distill export`, `distill train`, `distill trainings`: the training stage's commands."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from distill.commands.options import DbOption, FormatOption, SplitConfigOption, TrainConfigOption, about, db_path
from distill.models.registry import UnknownModelError
from distill.output import OutputFormat, command_errors, console, errors, print_table
from distill.reads import read_sql
from distill.stage_configs import load_stage
from distill.store import Store, StoreError
from distill.training.config import SplitConfig, TrainConfig
from distill.training.contamination import leak_summary
from distill.training.distributed import DistributedError
from distill.training.export import ContaminationError, export_level
from distill.training.memory import InsufficientMemory
from distill.training.splits import make_split

Opt = typer.Option
RunOption = Annotated[str, Opt("--run", help="The corpus run.")]
LevelOption = Annotated[str, Opt("--level", help="Reasoning level R1..R6 (R1: the accepted reasoning).")]
AllowLeaksOption = Annotated[bool | None, Opt("--allow-leaks", help=about(SplitConfig, "allow_leaks"))]


def split_command(
    run: RunOption,
    config_file: SplitConfigOption = None,
    seed: Annotated[int | None, Opt("--seed", help=about(SplitConfig, "seed"))] = None,
    valid: Annotated[float | None, Opt(help=about(SplitConfig, "valid"))] = None,
    test: Annotated[float | None, Opt(help=about(SplitConfig, "test"))] = None,
    force: Annotated[bool, Opt("--force", help="Replace an existing split set even if its test set changes.")] = False,
    db: DbOption = None,
) -> None:
    """Split a corpus run's problems into train/valid/test (by problem, clusters kept together, stratified)."""
    with command_errors("split", (StoreError, ValueError), "nothing was changed"):
        loaded = load_stage("split", config_file, {"seed": seed, "valid": valid, "test": test})
        s = loaded.config
        with Store(loaded.db(db)) as store:
            result = make_split(store, run, s.seed, valid=s.valid, test=s.test, force=force)
    counts = result.counts
    console.print(f"run {run} split seed {s.seed} ({', '.join(result.sources)}): {counts['train']} train, "
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
    config_file: SplitConfigOption = None,
    split_seed: Annotated[int | None, Opt("--split-seed", help=about(SplitConfig, "seed", "Which split set"))] = None,
    out: Annotated[Path | None, Opt("--out", help=about(TrainConfig, "out_dir", "Output root: "
                                                        "OUT/<run>/data/split-<seed>/<level>/"))] = None,
    allow_leaks: AllowLeaksOption = None,
    db: DbOption = None,
) -> None:
    """Write mlx-lm chat JSONL (train/valid/test) for one level and record it in the store; makes the split set
    first (with the config's `valid` and `test`) when there is none."""
    with command_errors("export", (StoreError, ValueError, OSError), "rerun the same command",
                        {ContaminationError: 3}):
        loaded = load_stage("split", config_file, {"seed": split_seed, "allow_leaks": allow_leaks})
        s = loaded.config
        out_dir = out or (loaded.study.out if loaded.study else TrainConfig.model_fields["out_dir"].default)
        with Store(loaded.db(db)) as store:
            result = export_level(store, run, level, s.seed, out_dir=out_dir, allow_leaks=s.allow_leaks,
                                  valid=s.valid, test=s.test)
    if result.created_split:
        console.print(f"made split seed {s.seed} (valid {s.valid}, test {s.test}): `distill split` to choose",
                      highlight=False)
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
    config_file: TrainConfigOption = None,
    seeds: Annotated[str | None, Opt("--seeds", help=about(TrainConfig, "seeds", "Comma-separated training "
                                                                                  "seeds"))] = None,
    iters: Annotated[int | None, Opt(help=about(TrainConfig, "iters", "Iterations per seed"))] = None,
    model: Annotated[str | None, Opt(help=about(TrainConfig, "model"))] = None,
    split_seed: Annotated[int | None, Opt("--split-seed", help=about(TrainConfig, "split_seed"))] = None,
    batch_size: Annotated[int | None, Opt(help=about(TrainConfig, "batch_size"))] = None,
    learning_rate: Annotated[float | None, Opt(help=about(TrainConfig, "learning_rate"))] = None,
    steps_per_eval: Annotated[int | None, Opt(help=about(TrainConfig, "steps_per_eval"))] = None,
    patience: Annotated[int | None, Opt(help=about(TrainConfig, "patience"))] = None,
    max_seq_length: Annotated[int | None, Opt(help=about(TrainConfig, "max_seq_length", "Tokens per example; "
                                                         "'auto': the longest, at most max_seq_length_cap"))] = None,
    out: Annotated[Path | None, Opt("--out", help=about(TrainConfig, "out_dir", "Output root"))] = None,
    restart: Annotated[bool, Opt("--restart", help="Discard existing training runs of these seeds.")] = False,
    allow_leaks: AllowLeaksOption = None,
    processes: Annotated[int | None, Opt("--processes", min=1, help=(
        "Train in N processes on this machine (data-parallel, MLX's ring backend through mlx.launch); "
        "batch_size stays the whole batch, split among them."))] = None,
    hostfile: Annotated[Path | None, Opt("--hostfile", help=(
        "Train in one process per host of this mlx.launch hostfile (several Macs; run it on the first host, "
        "which holds the store)."))] = None,
    db: DbOption = None,
) -> None:
    """LoRA-train the student on one level, one adapter per seed (best validation kept; resumable)."""
    from distill.training import distributed
    from distill.training.train import train_level

    failures = (StoreError, UnknownModelError, InsufficientMemory, ValueError, OSError, DistributedError)
    flags = {"seeds": [int(s) for s in seeds.split(",") if s.strip()] if seeds else None, "iters": iters,
             "model": model, "split_seed": split_seed, "batch_size": batch_size, "learning_rate": learning_rate,
             "steps_per_eval": steps_per_eval, "patience": patience, "max_seq_length": max_seq_length, "out_dir": out}
    if (processes or 1) > 1 or hostfile is not None:
        given = {"--run": run, "--level": level, "--config": config_file, "--seeds": seeds, "--iters": iters,
                 "--model": model, "--split-seed": split_seed, "--batch-size": batch_size,
                 "--learning-rate": learning_rate, "--steps-per-eval": steps_per_eval, "--patience": patience,
                 "--max-seq-length": max_seq_length, "--out": out, "--restart": restart, "--allow-leaks": allow_leaks}
        raise typer.Exit(_launch(given, flags, config_file, db, processes, hostfile))
    cluster = None
    with command_errors("train", (DistributedError,), "nothing was trained"):
        cluster = distributed.current()
    if cluster is not None and not cluster.leader:
        _follow(cluster)
        return

    def log(line: str) -> None:
        console.print(line, highlight=False, markup=False)

    try:
        with command_errors("train", failures,
                            f"rerun the same command to resume run {run!r} {level} from its last checkpoint",
                            {ContaminationError: 3, InsufficientMemory: 3}):
            try:
                loaded = load_stage("train", config_file, flags)
                study_leaks = loaded.study.split.allow_leaks if loaded.study else SplitConfig().allow_leaks
                with Store(loaded.db(db)) as store:
                    outcomes = train_level(store, run, level, loaded.config, restart=restart,
                                           allow_leaks=study_leaks if allow_leaks is None else allow_leaks,
                                           log=log, cluster=cluster)
            except BaseException:
                if cluster is not None and cluster.waiting:
                    cluster.share({"kind": "stop"})
                raise
            if cluster is not None:
                cluster.share({"kind": "done"})
    except typer.Exit as exit_:
        distributed.write_status(exit_.exit_code)
        raise
    distributed.write_status(0)
    rows = [(o.seed, o.status + (" (already)" if o.skipped else ""), o.best_iteration,
             None if o.best_val_loss is None else round(o.best_val_loss, 4), o.last_iteration, round(o.seconds, 1),
             None if o.seconds_per_iteration is None else round(o.seconds_per_iteration, 3), str(o.adapter_dir))
            for o in outcomes]
    print_table(["seed", "status", "best_iter", "best_val_loss", "last_iter", "seconds", "s_per_iter", "adapter"],
                rows, OutputFormat.table, title=f"{run} {level}")


def _launch(given: dict[str, Any], flags: dict[str, Any], config_file: Path | None, db: Path | None,
            processes: int | None, hostfile: Path | None) -> int:
    """`distill train` once per rank with mlx.launch (these arguments, without --processes/--hostfile); rank 0's
    exit code. The settings are checked here first, so a bad flag fails before any process starts."""
    from distill.training import distributed

    with command_errors("train", (DistributedError, ValueError, OSError), "nothing was trained"):
        if processes is not None and hostfile is not None:
            raise DistributedError("give --processes (this machine) or --hostfile (several hosts), not both")
        if distributed.current() is not None:
            raise DistributedError("already running under mlx.launch: leave out --processes and --hostfile")
        backend = None
        if hostfile is not None:
            processes, backend = distributed.hostfile_backend(hostfile)
        loaded = load_stage("train", config_file, flags)
        if loaded.config.batch_size < processes:
            raise DistributedError(f"batch_size {loaded.config.batch_size} is smaller than the {processes} processes "
                                   "(batch_size is the whole batch, split among them)")
        distributed.check_backend(backend or "ring")
        given = {**given, "--db": loaded.db(db).resolve()}
        argv = [sys.executable, "-m", "distill", "train"]
        for flag, value in given.items():
            if value is True:
                argv.append(flag)
            elif value is not None and value is not False:
                argv += [flag, str(Path(value).resolve() if isinstance(value, Path) else value)]
    console.print(f"{processes} processes, each: {shlex.join(argv)}", highlight=False, markup=False)
    with tempfile.TemporaryDirectory(prefix="distill-launch-") as folder:
        status = Path(folder) / "rank0.status"
        with command_errors("train", (DistributedError,), "nothing was trained"):  # no free ports
            command = distributed.launch_command(argv, processes=processes, hostfile=hostfile, status_file=status,
                                                 backend=backend)
        launch = subprocess.Popen(command)
        while launch.poll() is None:
            try:
                launch.wait()
            except KeyboardInterrupt:  # the ranks got it too: wait while they stop and rank 0 records it
                errors.print("interrupted: waiting for the processes to stop", highlight=False)
        code = distributed.read_status(status)
    if code is None:
        errors.print("[red]train failed:[/red] the processes ended without rank 0's result (a process was killed, "
                     "or rank 0 ran on another host: run --hostfile on the hostfile's first host)", highlight=False)
        return 1
    return code


def _follow(cluster: Any) -> None:
    """A rank > 0: train as rank 0 says; its errors printed with the rank, never a traceback."""
    from distill.training import distributed

    # Ctrl-C is rank 0's to handle: it records the run as interrupted and exits, and mlx.launch then ends the
    # others. (Interrupted here, a rank would exit first and mlx.launch would kill rank 0 before it recorded that.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        distributed.follow(cluster, log=lambda line: None)
    except distributed.StopFollowing:
        return
    except Exception as exc:  # noqa: BLE001  (shown as one line; rank 0 reports the run's outcome)
        if isinstance(exc, RuntimeError) and "peer was lost" in str(exc):
            # rank 0 stopped (Ctrl-C, or a failure it reports): a non-zero exit would make mlx.launch kill it
            # before it has recorded that
            errors.print(f"rank {cluster.rank}: the connection to the other ranks ended; stopping", highlight=False)
            raise typer.Exit(0) from None
        errors.print(f"[red]train failed on rank {cluster.rank}:[/red] {type(exc).__name__}: {exc}", highlight=False)
        # A failure all ranks agreed on ends every process cleanly (rank 0 records it); any other must end the
        # launch, or rank 0 would wait for this process forever: mlx.launch stops the others on a non-zero exit.
        raise typer.Exit(0 if exc is cluster.agreed_failure else 1) from None


def trainings_command(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Training runs with their best iteration, val loss and adapter."""
    try:
        table = read_sql(db_path(db), "SELECT training_id, run_name, level, split_seed, seed, status, "
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
