"""Our trainer vs the `mlx_lm lora` command: same model, data, iterations and settings.

Prints each one's wall time (the whole process: imports, model load, tokenising, training, validations, saving),
peak resident memory (ru_maxrss) and MLX's peak memory side by side, and the wall-time ratio ours / mlx-lm
(target <= 1.05). Ours records every loss in the store, validates and checkpoints (adapter + optimizer) at every
evaluation and keeps the best adapter; mlx-lm validates on the same schedule and saves only at the end.

Same work on both sides: LoRA rank 8, scale 20, dropout 0 on all layers, Adam, prompt masking, the same max
sequence length, the same number of validations over the whole validation set, one process each, OpenBLAS
for both (`LD_PRELOAD` for mlx-lm on Linux; distill loads it itself). mlx-lm means to batch examples of similar
length but, with its cached datasets, batches them in file order: it gets the files sorted by token length, so
both train on the same batches per epoch (ours adds the remainder as one smaller batch; mlx-lm drops it).

    .venv/bin/python benchmarks/train_overhead.py [--db FILE --run NAME] [--level R1] [--model student|DIR]
                                                  [--iters 50] [--batch-size 4] [--steps-per-eval 25] [--repeats 1]

Without --db/--run it trains on a toy corpus (arithmetic problems written by tests/support/training_fakes.py);
the model is the default student when installed, else a tiny random model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from distill.models.mlx_runtime import load_mlx_model, openblas_path  # noqa: E402
from distill.models.registry import UnknownModelError, resolve_mlx_dir  # noqa: E402
from distill.store import Store  # noqa: E402
from distill.store import training as db  # noqa: E402
from distill.training.data import prepare, read_jsonl, tokenize  # noqa: E402
from distill.training.export import export_level  # noqa: E402

OURS = """
import sys
from pathlib import Path
from distill.store import Store
from distill.stage_configs import load_stage
from distill.training.train import train_level
config = load_stage("train", Path(sys.argv[2]), {}).config
with Store(sys.argv[1]) as store:
    train_level(store, sys.argv[3], sys.argv[4], config, restart=True, allow_leaks=True, log=lambda line: None)
"""
MLX_LM = """
import atexit, sys
import mlx.core as mx
atexit.register(lambda: print("MLX_PEAK", mx.get_peak_memory(), flush=True))
from mlx_lm.lora import main
sys.argv = ["mlx_lm.lora", *sys.argv[1:]]
main()
"""


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS bytes, output) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({process.returncode}):\n{output[-3000:]}")
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux
    return wall, usage.ru_utime + usage.ru_stime, rss, output


def toy_store(workspace: Path, model: str | None) -> tuple[Path, str, str]:
    from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems, tiny_model_for

    problems = arithmetic_problems(240)
    path = workspace / "toy.duckdb"
    with Store(path) as store:
        ingest_problems(store, workspace, problems)
        add_corpus(store, "toy", problems)
    if model is None:
        try:
            model = str(resolve_mlx_dir("student"))
        except UnknownModelError:
            model = str(tiny_model_for(workspace / "tiny-model", problems))
    return path, "toy", model


def sorted_copy(folder: Path, target: Path, tokenizer) -> int:
    """train/valid.jsonl sorted by token length (stable) for mlx-lm; returns the valid set's size."""
    target.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for split in ("train", "valid"):
        rows = read_jsonl(folder / f"{split}.jsonl")
        lengths = [len(tokens) for tokens, _ in tokenize(rows, tokenizer, mask_prompt=True)]
        order = sorted(range(len(rows)), key=lambda i: (lengths[i], i))
        (target / f"{split}.jsonl").write_text("".join(json.dumps(rows[i], ensure_ascii=False) + "\n" for i in order))
        sizes[split] = len(rows)
    return sizes["valid"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="A store with the corpus run (copied; the original is not touched).")
    parser.add_argument("--run", help="The corpus run to train on.")
    parser.add_argument("--level", default="R1")
    parser.add_argument("--model", help="'student' (default when installed) or an MLX model directory.")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps-per-eval", type=int, default=25)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--repeats", type=int, default=1, help="Runs of each, alternating; medians are compared.")
    args = parser.parse_args()

    workspace = Path(tempfile.mkdtemp(prefix="train-overhead-"))
    try:
        if args.db and args.run:
            db_path, run, model = workspace / "store.duckdb", args.run, args.model or "student"
            shutil.copy(args.db, db_path)
        else:
            db_path, run, model = toy_store(workspace, args.model)
        model_dir = resolve_mlx_dir(model)
        with Store(db_path) as store:
            folder = export_level(store, run, args.level, 0, out_dir=workspace / "runs", allow_leaks=True).folder
        _, tokenizer = load_mlx_model(model_dir)
        data = prepare(folder, tokenizer, mask_prompt=True, max_seq_length="auto", cap=2048)
        valid_size = sorted_copy(folder, workspace / "sorted", tokenizer)
        if valid_size < args.batch_size:
            raise SystemExit(f"mlx-lm needs at least batch-size ({args.batch_size}) validation examples; the export "
                             f"has {valid_size}: use --batch-size {valid_size}")
        config = workspace / "train.toml"
        config.write_text(
            f'[train]\nmodel = "{model_dir}"\nseeds = [1]\niters = {args.iters}\nbatch_size = {args.batch_size}\n'
            f"learning_rate = {args.learning_rate}\nsteps_per_report = 5\nsteps_per_eval = {args.steps_per_eval}\n"
            f'patience = 1000000\nmax_seq_length = {data.max_seq_length}\nout_dir = "{workspace / "runs"}"\n'
            "num_layers = -1\n[train.lora]\nrank = 8\nscale = 20.0\ndropout = 0.0\n")
        ours_command = [sys.executable, "-c", OURS, str(db_path), str(config), run, args.level]
        mlx_command = [sys.executable, "-c", MLX_LM, "--model", str(model_dir), "--train", "--data",
                       str(workspace / "sorted"), "--fine-tune-type", "lora", "--optimizer", "adam", "--num-layers",
                       "-1", "--batch-size", str(args.batch_size), "--iters", str(args.iters), "--learning-rate",
                       str(args.learning_rate), "--steps-per-report", "5", "--steps-per-eval",
                       str(args.steps_per_eval), "--val-batches", "-1", "--max-seq-length", str(data.max_seq_length),
                       "--mask-prompt", "--adapter-path", str(workspace / "mlx-lm-adapters"), "--save-every",
                       str(10**9), "--seed", "1"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        mlx_env = dict(env)
        if sys.platform == "linux" and openblas_path():
            mlx_env["LD_PRELOAD"] = ":".join(filter(None, [openblas_path(), env.get("LD_PRELOAD")]))
        print(f"model {model_dir}; {len(data.train)} train / {len(data.valid)} valid examples, max_seq_length "
              f"{data.max_seq_length}; {args.iters} iterations, batch {args.batch_size}, validation every "
              f"{args.steps_per_eval}; {args.repeats} run(s) each", flush=True)
        results: dict[str, list[tuple[float, float, int, int]]] = {"ours": [], "mlx_lm lora": []}
        for repeat in range(args.repeats):
            order = ["mlx_lm lora", "ours"] if repeat % 2 == 0 else ["ours", "mlx_lm lora"]
            for name in order:
                if name == "ours":
                    wall, cpu, rss, _ = run_measured(ours_command, env)
                    with Store(db_path, read_only=True) as store:
                        row = db.training_run(store, run, args.level, 0, 1)
                    assert row["last_iteration"] == args.iters, row
                    peak = row["peak_memory"]
                else:
                    wall, cpu, rss, output = run_measured(mlx_command, mlx_env)
                    peak = int(next(line.split()[1] for line in output.splitlines() if line.startswith("MLX_PEAK")))
                results[name].append((wall, cpu, rss, peak))
                print(f"  {name:<12} run {repeat + 1}: {wall:7.1f} s wall, {cpu:7.1f} s CPU", flush=True)
        print(f"\n{'':<14}{'wall s':>10}{'CPU s':>10}{'wall s/iter':>13}{'max RSS GiB':>14}{'MLX peak GiB':>15}")
        medians, cpus = {}, {}
        for name, rows in results.items():
            wall, cpus[name] = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
            medians[name] = wall
            print(f"{name:<14}{wall:>10.1f}{cpus[name]:>10.1f}{wall / args.iters:>13.3f}"
                  f"{max(r[2] for r in rows) / 2**30:>14.2f}{max(r[3] for r in rows) / 2**30:>15.2f}")
        print(f"\nCPU-time ratio ours / mlx_lm lora: {cpus['ours'] / cpus['mlx_lm lora']:.3f} (less sensitive to "
              "other load on the machine than wall time)")
        ratio = medians["ours"] / medians["mlx_lm lora"]
        verdict = "met" if ratio <= 1.05 else "MISSED"
        print(f"\nwall-time ratio ours / mlx_lm lora: {ratio:.3f} (target <= 1.05: {verdict})")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    main()
