"""Multi-process (data-parallel) training on MLX's ring backend: two local processes launched by
`distill train --processes 2` (mlx.launch) take the same steps as one process at the same whole batch, resume from
rank 0's checkpoint, and only rank 0 writes; refusals are one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distill.models.mlx_runtime import load_mlx
from distill.store import Store
from distill.store import training as db
from distill.training.data import BatchOrder, make_batches
from distill.training.train import train_level

from tests.support.paths import REPO
from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems

GUARD = Path(__file__).parent / "distributed_guard"
TOLERANCE = 1e-3  # float32 sums in another order (two shares, then all_sum), compounded over 20 Adam steps


def ring_available() -> bool:
    return load_mlx().distributed.is_available(backend="ring")


needs_ring = pytest.mark.skipif(not ring_available(), reason="this MLX build has no ring backend")


def losses(store: Store, training_id: int, split: str) -> list[tuple[int, float, int | None]]:
    return [(r["iteration"], r["loss"], r["tokens"]) for r in db.losses(store, training_id, split)]


def launch(tmp_path: Path, db_path: Path, config: Path, iters: int, guard_report: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": f"{GUARD}{os.pathsep}{REPO}",
           "DISTILL_GUARDED": str(tmp_path / "guarded"), "DISTILL_GUARD_REPORT": str(guard_report)}
    env.pop("DISTILL_DB", None)
    command = [sys.executable, "-m", "distill", "train", "--run", "toy-run", "--level", "R1", "--config", str(config),
               "--iters", str(iters), "--db", str(db_path), "--processes", "2"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


@needs_ring
def test_two_processes_take_the_steps_of_one_and_only_rank_0_writes(tmp_path, tiny_model_dir):
    problems = arithmetic_problems(60)
    guarded = tmp_path / "guarded"  # the stores and every training output: ranks > 0 must not write here
    guarded.mkdir()
    for name in ("one", "two"):
        with Store(guarded / f"{name}.duckdb") as store:
            ingest_problems(store, tmp_path, problems)
            add_corpus(store, "toy-run", problems, abstain={"q001", "q002"})
    # batch 3 of 42 train / 10 valid examples: shares of 2 and 1, and a last validation batch of one example
    # (an empty share on rank 1)
    values = {"model": str(tiny_model_dir), "seeds": [1], "batch_size": 3, "steps_per_report": 1,
              "steps_per_eval": 5, "learning_rate": 1e-3}
    from distill.training.config import TrainConfig

    with Store(guarded / "one.duckdb") as store:
        [one] = train_level(store, "toy-run", "R1", TrainConfig(**values, iters=20, out_dir=guarded / "runs-one"),
                            log=lambda line: None)
        expected = {split: losses(store, one.training_id, split) for split in ("train", "valid")}
        best = (one.best_iteration, one.best_val_loss)
    config = tmp_path / "train.toml"
    config.write_text("[train]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                      + f'out_dir = "{guarded / "runs-two"}"\n')
    report = tmp_path / "guard.jsonl"

    started = time.perf_counter()
    first = launch(tmp_path, guarded / "two.duckdb", config, 10, report)  # 10 iterations, then resumed to 20
    second = launch(tmp_path, guarded / "two.duckdb", config, 20, report)
    seconds = time.perf_counter() - started
    for result in (first, second):
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "2 processes: 2 of every batch of 3 each" in result.stdout and "Traceback" not in result.stderr
    assert "resuming at iteration 10" in second.stdout

    with Store(guarded / "two.duckdb") as store:
        [row] = store.query("SELECT * FROM training_runs")
        got = {split: losses(store, row["training_id"], split) for split in ("train", "valid")}
    assert row["status"] == "finished" and row["last_iteration"] == 20
    for split in ("train", "valid"):  # every iteration once (rank 0 alone records), the same tokens, the same losses
        assert [(i, t) for i, _, t in got[split]] == [(i, t) for i, _, t in expected[split]]
    differences = [abs(a[1] - b[1]) for split in got for a, b in zip(got[split], expected[split], strict=True)]
    print(f"\n1 vs 2 processes: {len(differences)} losses, max |difference| {max(differences):.2e}; two launches "
          f"{seconds:.0f} s; train losses 1 process {[round(x, 5) for _, x, _ in expected['train']]}, 2 processes "
          f"{[round(x, 5) for _, x, _ in got['train']]}")
    assert max(differences) < TOLERANCE
    assert row["best_iteration"] == best[0] and row["best_val_loss"] == pytest.approx(best[1], abs=TOLERANCE)
    adapter = Path(row["adapter_dir"])
    assert (adapter / "adapters.safetensors").is_file() and (adapter / "checkpoint" / "latest").read_text() == \
        "it-0000020"

    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert {r["rank"] for r in records if r["kind"] == "armed"} == {"1"} and len(records) >= 2  # one per launch
    assert [r for r in records if r["kind"] != "armed"] == []  # rank 1 never wrote a file nor opened the store


def test_batch_shares_make_up_the_whole_batch_and_an_empty_share_trains_nothing():
    class Group:
        def __init__(self, rank: int, size: int):
            self._rank, self._size = rank, size

        def rank(self) -> int:
            return self._rank

        def size(self) -> int:
            return self._size

    dataset = [([1] * (5 + i % 7), 2) for i in range(10)]  # batches of 3: 3, 3, 3 and 1
    whole = [[int(x) for x in lengths[:, 1]] for _, lengths in BatchOrder(7)(dataset, 3, 64)]
    shares = [[[int(x) for x in lengths[:, 1]] for _, lengths in BatchOrder(7)(dataset, 3, 64,
                                                                                comm_group=Group(r, 2))]
              for r in (0, 1)]
    assert [sorted(n for n in a + b if n) for a, b in zip(*shares, strict=True)] == [sorted(x) for x in whole]
    assert shares[1][-1] == [0]  # the last batch's one example went to rank 0; rank 1 gets a row without tokens
    assert len(make_batches(dataset, 3)) == 4
    looped = BatchOrder(7, start=5)(dataset, 3, 64, loop=True, comm_group=Group(1, 2))
    one = BatchOrder(7, start=5)(dataset, 3, 64, loop=True)
    for _ in range(6):  # a resume at any iteration: the share of the same batch
        (_, share), (_, full) = next(looped), next(one)
        assert set(int(x) for x in share[:, 1]) <= set(int(x) for x in full[:, 1]) | {0}


def text(result) -> str:
    return " ".join(result.output.split())  # the console wraps long lines


def test_a_missing_backend_is_refused_in_one_line(cli, tmp_path, monkeypatch):
    mx = load_mlx()
    monkeypatch.setattr(mx.distributed, "is_available", lambda backend="any": False)
    result = cli("train", "--run", "toy-run", "--processes", "2", "--out", tmp_path / "runs")
    assert result.exit_code == 2 and "has no 'ring' backend" in text(result), result.output
    assert "Traceback" not in result.output


def test_launch_refusals_before_any_process_starts(cli, tmp_path):
    result = cli("train", "--run", "toy-run", "--processes", "4", "--batch-size", "2")
    assert result.exit_code == 2 and "batch_size 2 is smaller than the 4 processes" in text(result)
    hostfile = tmp_path / "hosts.json"
    hostfile.write_text('{"hosts": [{"ips": ["10.0.0.2"]}]}')
    result = cli("train", "--run", "toy-run", "--hostfile", hostfile)
    assert result.exit_code == 2 and "each with 'ssh'" in text(result)
    result = cli("train", "--run", "toy-run", "--hostfile", hostfile, "--processes", "2")
    assert result.exit_code == 2 and "not both" in text(result)


@needs_ring
def test_a_rank_with_another_model_is_refused_and_rank_0_records_why(tmp_path, tiny_model_dir):
    """Run by mlx.launch directly (no --processes): rank 1's "student" has other weights than rank 0's."""
    from distill.training.distributed import free_ports, launcher

    from tests.support.training_fakes import tiny_model_for

    problems = arithmetic_problems(60)
    for rank, seed in ((0, 0), (1, 1)):  # the same vocabulary (same tokens), other random weights
        tiny_model_for(tmp_path / f"models-{rank}" / "student-mlx", problems, seed=seed)
    with Store(tmp_path / "test.duckdb") as store:
        ingest_problems(store, tmp_path, problems)
        add_corpus(store, "toy-run", problems, abstain={"q001", "q002"})
    train = (f"{sys.executable} -m distill train --run toy-run --model student --seeds 1 --iters 5 "
             f"--db {tmp_path / 'test.duckdb'} --out {tmp_path / 'runs'}")
    script = f'export DISTILL_MODELS_DIR={tmp_path}/models-$MLX_RANK; exec {train}'
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([*launcher(), "--backend", "ring", "-n", "2", "--starting-port", str(free_ports(2)),
                             "--", "bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600, stdin=subprocess.DEVNULL)
    output = " ".join((result.stdout + result.stderr).split())
    assert "train failed on rank 1: DistributedError:" in output and "has other weights than rank 0's model" in output
    assert "train failed: 1 of the 2 processes could not start (see their messages)" in output
    assert "Traceback" not in output
    with Store(tmp_path / "test.duckdb") as store:
        [row] = store.query("SELECT status, error FROM training_runs")
    assert row["status"] == "failed" and "could not start" in row["error"]
