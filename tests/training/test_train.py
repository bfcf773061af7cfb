"""LoRA training on a tiny random model: recorded losses, the best-validation adapter, early stop, exact resume
(interrupted in-process and killed with SIGKILL), determinism per seed, refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distill.models.mlx_runtime import load_mlx, load_mlx_model
from distill.store import Store, StoreError
from distill.store import training as db
from distill.training.data import BatchOrder, prepare
from distill.training.loop import Loop
from distill.training.memory import InsufficientMemory
from distill.training.splits import make_split
from distill.training.train import train_level

from tests.support.paths import REPO
from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems


def val_losses(store, training_id):
    return [(r["iteration"], r["loss"]) for r in db.losses(store, training_id, "valid")]


def train_losses(store, training_id):
    return [(r["iteration"], r["loss"]) for r in db.losses(store, training_id, "train")]


def quiet(line: str) -> None:
    pass


def adapter_val_loss(model_dir: Path, adapter_dir: Path, export_folder: Path, weights: Path | None = None) -> float:
    """The validation loss of a saved adapter, computed afresh."""
    load_mlx()
    from mlx_lm.tuner.trainer import evaluate

    model, tokenizer = load_mlx_model(model_dir, adapter_path=adapter_dir)
    if weights is not None:
        model.load_weights(str(weights), strict=False)
    data = prepare(export_folder, tokenizer, mask_prompt=True, max_seq_length="auto", cap=2048)
    return evaluate(model, data.valid, batch_size=4, num_batches=-1, max_seq_length=data.max_seq_length,
                    iterate_batches=BatchOrder(0))


def test_trains_records_every_loss_and_the_adapter_generates(toy_run):
    [outcome] = train_level(toy_run.store, toy_run.run, "R1", toy_run.config(iters=20), log=quiet)
    row = db.training_run(toy_run.store, toy_run.run, "R1", 0, 1)
    assert row["status"] == outcome.status == "finished" and row["last_iteration"] == 20
    vals = val_losses(toy_run.store, outcome.training_id)
    assert [i for i, _ in vals] == [0, 5, 10, 15, 20]
    assert [i for i, _ in train_losses(toy_run.store, outcome.training_id)] == list(range(1, 21))
    assert vals[-1][1] < vals[0][1]  # it learned something
    best = min(vals, key=lambda v: v[1])
    assert (row["best_iteration"], row["best_val_loss"]) == best
    assert row["config"]["resolved_max_seq_length"] == row["max_seq_length"] > 0
    assert row["manifest"]["data"]["train"] == db.latest_export(toy_run.store, toy_run.run, 0, "R1")["files"][
        "train"]["sha256"]
    assert row["peak_memory"] > 0 and row["memory_estimate"] >= row["peak_memory"]
    adapter = Path(row["adapter_dir"])
    assert adapter == (toy_run.tmp / "runs" / toy_run.run / "adapters" / "R1" / "seed-1").resolve()
    assert db.find_adapter(toy_run.store, toy_run.run, "R1", 1)["adapter_dir"] == str(adapter)
    from mlx_lm import generate

    model, tokenizer = load_mlx_model(toy_run.model, adapter_path=adapter)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 plus 3 ?"}],
                                           add_generation_prompt=True)
    assert isinstance(generate(model, tokenizer, prompt, max_tokens=5), str)


def yes_no_run(store, tmp_path, words: int = 6) -> None:
    """Run 'yn': train completions say 'yes', valid ones 'no'. The val loss falls while the shared format is
    learned, then rises as 'yes' is memorised."""
    problems = arithmetic_problems(40)
    for p in problems:
        p["reasoning"] = "so the result is " + " ".join(["yes"] * words)
    ingest_problems(store, tmp_path, problems, source="yn")
    add_corpus(store, "yn", problems, source="yn")
    store.cursor().execute("UPDATE corpus SET answer = 'yes' WHERE run_name = 'yn'")
    split = make_split(store, "yn", 0, valid=0.2)
    store.cursor().execute("UPDATE corpus SET answer = 'no', reasoning = 'so the result is ' || trim(repeat('no ', ?)) "
                           "WHERE run_name = 'yn' AND list_contains(?, problem_id)", [words, split.ids("valid")])


def test_best_adapter_is_the_argmin_when_val_loss_rises(store, tmp_path, toy_run):
    yes_no_run(store, tmp_path)
    config = toy_run.config(iters=60, steps_per_report=5, steps_per_eval=5)
    [outcome] = train_level(store, "yn", "R1", config, log=quiet)
    vals = val_losses(store, outcome.training_id)
    best_iteration, best_loss = min(vals, key=lambda v: v[1])
    assert 0 < best_iteration < 60
    assert max(loss for i, loss in vals if i > best_iteration) > best_loss + 0.5  # it really rose after the best
    assert (outcome.best_iteration, outcome.best_val_loss) == (best_iteration, best_loss)
    folder = Path(db.latest_export(store, "yn", 0, "R1")["folder"])
    assert adapter_val_loss(toy_run.model, outcome.adapter_dir, folder) == pytest.approx(best_loss, rel=1e-5)
    last = adapter_val_loss(toy_run.model, outcome.adapter_dir, folder,
                            weights=outcome.adapter_dir / "last.safetensors")
    assert last == pytest.approx(vals[-1][1], rel=1e-5) and last > best_loss


def test_early_stop_after_patience(store, tmp_path, toy_run):
    yes_no_run(store, tmp_path)
    config = toy_run.config(iters=200, steps_per_report=5, steps_per_eval=5, patience=3)
    [outcome] = train_level(store, "yn", "R1", config, log=quiet)
    assert outcome.status == "early_stopped"
    assert outcome.last_iteration == outcome.best_iteration + 3 * 5 < 200
    vals = val_losses(store, outcome.training_id)
    assert vals[-1][0] == outcome.last_iteration
    assert min(vals, key=lambda v: v[1])[0] == outcome.best_iteration
    folder = Path(db.latest_export(store, "yn", 0, "R1")["folder"])
    last = adapter_val_loss(toy_run.model, outcome.adapter_dir, folder,
                            weights=outcome.adapter_dir / "last.safetensors")
    assert last == pytest.approx(vals[-1][1], rel=1e-5)  # the adapter at the iteration it stopped
    # a rerun does not train an early-stopped run again
    [again] = train_level(store, "yn", "R1", config, log=quiet)
    assert again.skipped and again.last_iteration == outcome.last_iteration


def test_same_seed_same_losses_other_seed_differs(toy_run):
    config = toy_run.config(iters=12, seeds=[1, 2], lora={"rank": 4, "scale": 10.0, "dropout": 0.1})
    first = train_level(toy_run.store, toy_run.run, "R1", config, log=quiet)
    reference = {o.seed: (train_losses(toy_run.store, o.training_id), val_losses(toy_run.store, o.training_id))
                 for o in first}
    again = train_level(toy_run.store, toy_run.run, "R1", config, restart=True, log=quiet)
    for outcome in again:
        assert (train_losses(toy_run.store, outcome.training_id),
                val_losses(toy_run.store, outcome.training_id)) == reference[outcome.seed]
    assert reference[1][0] != reference[2][0]


class Interrupt:
    """Raise KeyboardInterrupt (as Ctrl-C would) when the trainer reports `iteration`."""

    def __init__(self, monkeypatch, iteration: int):
        original = Loop.on_train_loss_report

        def report(loop, info):
            if loop.offset + info["iteration"] == iteration:
                raise KeyboardInterrupt
            original(loop, info)

        monkeypatch.setattr(Loop, "on_train_loss_report", report)


def test_interrupted_training_resumes_exactly(toy_run, monkeypatch):
    config = toy_run.config(iters=20, seeds=[3], lora={"rank": 8, "scale": 20.0, "dropout": 0.1})
    [whole] = train_level(toy_run.store, toy_run.run, "R1", config, log=quiet)
    expected = (train_losses(toy_run.store, whole.training_id), val_losses(toy_run.store, whole.training_id))
    with monkeypatch.context() as patch:
        Interrupt(patch, 13)
        with pytest.raises(KeyboardInterrupt):
            train_level(toy_run.store, toy_run.run, "R1", config, restart=True, log=quiet)
    row = db.training_run(toy_run.store, toy_run.run, "R1", 0, 3)
    assert row["status"] == "interrupted" and row["last_iteration"] == 10
    [resumed] = train_level(toy_run.store, toy_run.run, "R1", config, log=quiet)
    assert resumed.resumed_from == 10 and resumed.status == "finished"
    resumed_losses = train_losses(toy_run.store, resumed.training_id), val_losses(toy_run.store, resumed.training_id)
    assert resumed_losses == expected


def test_more_iterations_continue_a_finished_run_exactly(toy_run):
    long = toy_run.config(iters=20, seeds=[4])
    [whole] = train_level(toy_run.store, toy_run.run, "R1", long, log=quiet)
    expected = train_losses(toy_run.store, whole.training_id), val_losses(toy_run.store, whole.training_id)
    [short] = train_level(toy_run.store, toy_run.run, "R1", long.model_copy(update={"iters": 10}), restart=True,
                          log=quiet)
    assert short.last_iteration == 10
    [longer] = train_level(toy_run.store, toy_run.run, "R1", long, log=quiet)
    assert longer.resumed_from == 10
    assert (train_losses(toy_run.store, longer.training_id), val_losses(toy_run.store, longer.training_id)) == expected


KILL_SCRIPT = """
import sys
from pathlib import Path
from distill.store import Store
from distill.training.config import TrainConfig
from distill.training.train import train_level
config = TrainConfig.model_validate_json(Path(sys.argv[2]).read_text())
with Store(sys.argv[1]) as store:
    train_level(store, "toy-run", "R1", config, log=lambda line: None)
"""


def test_killed_training_resumes_exactly(toy_run, tmp_path):
    config = toy_run.config(iters=150, seeds=[5], steps_per_eval=10)
    [whole] = train_level(toy_run.store, toy_run.run, "R1", config, log=quiet)
    expected = train_losses(toy_run.store, whole.training_id), val_losses(toy_run.store, whole.training_id)
    toy_run.store.close()
    db_path = tmp_path / "test.duckdb"
    config_path = tmp_path / "config.json"
    config_path.write_text(config.model_dump_json())
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    with Store(db_path) as store:  # a fresh training of the same run, to be killed
        db.delete_training_run(store, whole.training_id)
    pointer = whole.adapter_dir / "checkpoint" / "latest"
    pointer.unlink()
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(db_path), str(config_path)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if pointer.is_file() and pointer.read_text().strip() >= "it-0000030":
            break
        time.sleep(0.01)
    assert process.poll() is None, f"the training ended before it could be killed: {process.stderr.read()[-2000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = int(pointer.read_text().strip().split("-")[1])
    assert 30 <= killed_at < 150
    with Store(db_path) as store:
        row = db.training_run(store, toy_run.run, "R1", 0, 5)
        assert row["status"] == "running" and row["last_iteration"] >= killed_at
        [resumed] = train_level(store, toy_run.run, "R1", config, log=quiet)
        assert resumed.resumed_from == killed_at and resumed.status == "finished"
        assert (train_losses(store, resumed.training_id), val_losses(store, resumed.training_id)) == expected


def test_changed_settings_are_refused_and_restart_trains_again(toy_run):
    config = toy_run.config(iters=5, seeds=[1])
    train_level(toy_run.store, toy_run.run, "R1", config, log=quiet)
    with pytest.raises(StoreError, match="other settings .*learning_rate"):
        train_level(toy_run.store, toy_run.run, "R1", config.model_copy(update={"learning_rate": 1e-4}), log=quiet)
    [again] = train_level(toy_run.store, toy_run.run, "R1", config.model_copy(update={"learning_rate": 1e-4}),
                          restart=True, log=quiet)
    assert again.status == "finished"
    assert db.training_run(toy_run.store, toy_run.run, "R1", 0, 1)["config"]["learning_rate"] == 1e-4


def test_truncated_and_dropped_examples_are_counted_and_reported(toy_run):
    lines = []
    [outcome] = train_level(toy_run.store, toy_run.run, "R1", toy_run.config(iters=2, max_seq_length=60),
                            log=lines.append)
    row = db.training_run(toy_run.store, toy_run.run, "R1", 0, 1)
    export = db.latest_export(toy_run.store, toy_run.run, 0, "R1")
    _, tokenizer = load_mlx_model(toy_run.model)
    data = prepare(Path(export["folder"]), tokenizer, mask_prompt=True, max_seq_length=60, cap=2048)
    lengths = data.lengths["train"]
    assert lengths.max > 60 and data.truncated["train"] > 0
    assert (row["truncated_train"], row["truncated_valid"], row["max_seq_length"]) == (
        data.truncated["train"], data.truncated["valid"], 60)
    assert any("longer than max_seq_length 60" in line for line in lines)
    # so short that even the prompts do not fit: every example dropped, and training refuses
    tiny = prepare(Path(export["folder"]), tokenizer, mask_prompt=True, max_seq_length=10, cap=2048)
    assert tiny.train == [] and tiny.dropped["train"] == data.lengths["train"].count
    with pytest.raises(ValueError, match="need training and validation examples"):
        train_level(toy_run.store, toy_run.run, "R1", toy_run.config(iters=2, max_seq_length=10), restart=True,
                    log=quiet)
    assert outcome.status == "finished"


def test_memory_preflight_refuses_before_step_one(toy_run, monkeypatch):
    monkeypatch.setattr("distill.training.memory.available_memory", lambda: (1 << 20, "test: 1 MiB"))
    with pytest.raises(InsufficientMemory, match="would not fit in memory: estimated peak"):
        train_level(toy_run.store, toy_run.run, "R1", toy_run.config(iters=5), log=quiet)
    row = db.training_run(toy_run.store, toy_run.run, "R1", 0, 1)
    assert row["status"] == "failed" and "InsufficientMemory" in row["error"]
    assert db.losses(toy_run.store, row["training_id"]) == []  # not even the iteration-0 validation ran
    [ok] = train_level(toy_run.store, toy_run.run, "R1", toy_run.config(iters=5, memory_check=False), log=quiet)
    assert ok.status == "finished"


def test_batch_order_resumes_at_any_iteration():
    dataset = [([1] * n, 0) for n in range(3, 40)]
    whole = BatchOrder(seed=9)(dataset, batch_size=4, max_seq_length=64, loop=True)
    first = [next(whole)[0].tolist() for _ in range(25)]
    resumed = BatchOrder(seed=9, start=17)(dataset, batch_size=4, max_seq_length=64, loop=True)
    assert [next(resumed)[0].tolist() for _ in range(8)] == first[17:]
    other = BatchOrder(seed=10)(dataset, batch_size=4, max_seq_length=64, loop=True)
    assert [next(other)[0].tolist() for _ in range(25)] != first
    # every example is in exactly one batch per epoch, the remainder included
    seen = sorted(len(row) - row.count(0) for batch in first[:10] for row in batch)
    assert seen == list(range(3, 40))
