"""`train_level`: LoRA-train the student on one reasoning level of a corpus run, one training run per seed.

For each seed: the latest export of (run, split seed, level) (exported first when there is none), the base
model loaded fresh, the memory pre-flight, then `training.loop.Loop`. Everything is recorded in the store:
`training_runs` (config, manifest, status, best iteration and loss, adapter directory) and `training_losses`
(every reported train and val loss). Rerunning resumes an unfinished run from its checkpoint, continues a
finished one when `iters` grew, and refuses changed settings or data unless `restart`.

With a `cluster` (several processes, `training.distributed`) this runs on rank 0 only: it sends the other ranks
the data and each seed it trains, and alone writes the store and the adapter directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.models.mlx_runtime import load_mlx_model
from distill.models.registry import resolve_mlx_dir
from distill.store import Store, StoreError
from distill.store import training as db
from distill.store.manifest import distill_version, git_sha, package_versions
from distill.store.rows_training import TrainingRunRow
from distill.training import checkpoint
from distill.training.config import TrainConfig
from distill.training.data import PreparedData, prepare
from distill.training.distributed import Cluster, job_message, per_process_batch
from distill.training.export import export_level, verify_export
from distill.training.loop import Loop, LoopState, fmt_loss
from distill.training.memory import check_fits, estimate_peak

from distill.cancel import Cancelled

Log = Callable[[str], None]


@dataclass
class TrainOutcome:
    seed: int
    training_id: int
    adapter_dir: Path
    status: str
    best_iteration: int | None
    best_val_loss: float | None
    last_iteration: int
    seconds: float
    seconds_per_iteration: float | None
    peak_memory: int | None
    resumed_from: int | None = None
    skipped: bool = False


def adapter_dir_for(config: TrainConfig, run_name: str, level: str, seed: int) -> Path:
    """OUT_DIR/<run>/adapters/<level>/seed-<s>/ (split-<k>-seed-<s> for a split seed other than 0)."""
    name = f"seed-{seed}" if config.split_seed == 0 else f"split-{config.split_seed}-seed-{seed}"
    return (Path(config.out_dir) / run_name / "adapters" / level / name).resolve()


def train_level(store: Store, run_name: str, level: str, config: TrainConfig, *, restart: bool = False,
                allow_leaks: bool = False, log: Log = print, cluster: Cluster | None = None) -> list[TrainOutcome]:
    export = db.latest_export(store, run_name, config.split_seed, level)
    if export is None:
        result = export_level(store, run_name, level, config.split_seed, out_dir=config.out_dir,
                              allow_leaks=allow_leaks)
        log(f"exported {run_name} {level} (split seed {config.split_seed}): {result.rows} -> {result.folder}")
        export = db.export_by_id(store, result.export_id)
    verify_export(export)
    model_dir = resolve_mlx_dir(config.model)
    loaded = [load_mlx_model(model_dir)]  # the first seed trains this one; later seeds load a fresh copy
    tokenizer = loaded[0][1]
    data = prepare(Path(export["folder"]), tokenizer, mask_prompt=config.mask_prompt,
                   max_seq_length=config.max_seq_length, cap=config.max_seq_length_cap)
    log(f"data: {data.summary()}")
    if data.truncated["train"] or data.truncated["valid"]:
        log(f"warning: {data.truncated['train']} train and {data.truncated['valid']} valid examples are longer than "
            f"max_seq_length {data.max_seq_length} and are cut at it")
    if cluster is not None:
        if config.batch_size < cluster.size:
            raise ValueError(f"batch_size {config.batch_size} is smaller than the {cluster.size} processes: each "
                             "process trains on its share of every batch (batch_size is the whole batch)")
        hashes = {split: entry["sha256"] for split, entry in export["files"].items()}
        cluster.share(job_message(config, Path(export["folder"]), hashes, data, loaded[0][0]))
        log(f"{cluster.size} processes: {per_process_batch(config.batch_size, cluster.size)} of every batch of "
            f"{config.batch_size} each; rank 0 writes the store and the adapters")
    return [_train_seed(store, run_name, level, config, seed, export, model_dir, data, restart=restart, log=log,
                        fresh_model=loaded.pop() if loaded else None, cluster=cluster) for seed in config.seeds]


def _train_seed(store: Store, run_name: str, level: str, config: TrainConfig, seed: int, export: dict[str, Any],
                model_dir: Path, data: PreparedData, *, restart: bool, log: Log,
                fresh_model: tuple[Any, Any] | None = None, cluster: Cluster | None = None) -> TrainOutcome:
    adapter_dir = adapter_dir_for(config, run_name, level, seed)
    existing = db.training_run(store, run_name, level, config.split_seed, seed)
    if existing is not None and restart:
        db.delete_training_run(store, existing["training_id"])
        checkpoint.clear(Path(existing["adapter_dir"]))
        existing = None
    if existing is None:
        checkpoint.clear(adapter_dir)
    else:
        _check_same(existing, config, export, adapter_dir)
        done = existing["status"] in ("finished", "early_stopped") and (
            existing["status"] == "early_stopped" or existing["last_iteration"] >= config.iters)
        if done:
            log(f"seed {seed}: already {existing['status']} (best val loss {fmt_loss(existing['best_val_loss'])} at "
                f"iteration {existing['best_iteration']}); --restart to train again")
            return _outcome(store, existing, skipped=True)
    hashes = {split: entry["sha256"] for split, entry in export["files"].items()}
    resolved = {**config.model_dump(mode="json"), "seed": seed, "model_dir": str(model_dir),
                "resolved_max_seq_length": data.max_seq_length}
    manifest = {"export_id": export["export_id"], "data": hashes, "text_source": export["text_source"],
                "lengths": {k: v.__dict__ for k, v in data.lengths.items()}, "truncated": data.truncated,
                "dropped": data.dropped, "packages": package_versions(), "distill_version": distill_version(),
                "git_sha": git_sha()}
    if existing is None:
        training_id = db.create_training_run(store, TrainingRunRow(
            run_name=run_name, level=level, split_seed=config.split_seed, seed=seed,
            export_id=export["export_id"], model=str(model_dir), adapter_dir=str(adapter_dir),
            config=resolved, manifest=manifest, status="running", iters=config.iters,
            max_seq_length=data.max_seq_length, truncated_train=data.truncated["train"],
            truncated_valid=data.truncated["valid"]))
    else:
        training_id = existing["training_id"]
        db.update_training_run(store, training_id, status="running", iters=config.iters, config=resolved,
                               error=None)

    batch = config.batch_size if cluster is None else per_process_batch(config.batch_size, cluster.size)

    def preflight(model: Any) -> None:
        estimate = estimate_peak(model, batch_size=batch, max_seq_length=data.max_seq_length,
                                 grad_checkpoint=config.grad_checkpoint)
        db.update_training_run(store, training_id, memory_estimate=estimate.total,
                               manifest={**manifest, "memory": estimate.describe()})
        log(f"seed {seed}: memory pre-flight: {estimate.describe()}")
        if config.memory_check:
            check_fits(estimate, batch_size=batch, max_seq_length=data.max_seq_length)

    def sink(losses: list[dict[str, Any]], state: LoopState) -> None:
        db.record_progress(store, training_id, losses, last_iteration=state.iteration,
                           best_iteration=state.best_iteration, best_val_loss=state.best_val_loss,
                           seconds=state.seconds)

    model, _ = fresh_model or load_mlx_model(model_dir)
    loop = Loop(model, data, config, seed=seed, adapter_dir=adapter_dir, model_path=str(model_dir),
                data_hashes=hashes, sink=sink, preflight=preflight, log=lambda line: log(f"seed {seed}: {line}"),
                cluster=cluster)
    if existing is not None:
        resume_at = checkpoint.latest_checkpoint(adapter_dir)
        if resume_at is not None:
            dropped = db.forget_losses_after(store, training_id, checkpoint.read_state(resume_at).iteration)
            if dropped:
                log(f"seed {seed}: dropped {dropped} losses recorded after the checkpoint; they are recomputed")
    started = time.perf_counter()
    try:
        if cluster is not None:
            cluster.share({"kind": "seed", "seed": seed, "adapter_dir": str(adapter_dir)})
        result = loop.run()
    except (KeyboardInterrupt, Cancelled):
        db.update_training_run(store, training_id, status="interrupted")
        raise
    except Exception as exc:
        db.update_training_run(store, training_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    db.update_training_run(store, training_id, status=result.status, last_iteration=result.state.iteration,
                           best_iteration=result.state.best_iteration, best_val_loss=result.state.best_val_loss,
                           seconds=result.state.seconds, peak_memory=result.peak_memory)
    log(f"seed {seed}: {result.status} at iteration {result.state.iteration} in {time.perf_counter() - started:.0f} s; "
        f"best val loss {fmt_loss(result.state.best_val_loss)} at iteration {result.state.best_iteration}; "
        f"adapter {adapter_dir}")
    outcome = _outcome(store, db.training_run(store, run_name, level, config.split_seed, seed))
    outcome.resumed_from = result.resumed_from
    return outcome


def _check_same(existing: dict[str, Any], config: TrainConfig, export: dict[str, Any], adapter_dir: Path) -> None:
    stored = TrainConfig(**{k: v for k, v in existing["config"].items() if k in TrainConfig.model_fields})
    if stored.identity() != config.identity():
        changed = sorted(k for k, v in config.identity().items() if stored.identity().get(k) != v)
        raise StoreError(f"training run {existing['training_id']} ({existing['run_name']} {existing['level']} seed "
                         f"{existing['seed']}) exists with other settings ({', '.join(changed)}): use the original "
                         "settings, or --restart to train it again from scratch")
    hashes = {split: entry["sha256"] for split, entry in export["files"].items()}
    if existing["manifest"].get("data") != hashes:
        raise StoreError(f"training run {existing['training_id']} was trained on export {existing['export_id']}; the "
                         f"data changed since (export {export['export_id']}): --restart to train on the new data")
    if Path(existing["adapter_dir"]) != adapter_dir:
        raise StoreError(f"training run {existing['training_id']} keeps its adapter in {existing['adapter_dir']}, "
                         f"not {adapter_dir}: use the same --out, or --restart")


def _outcome(store: Store, row: dict[str, Any], *, skipped: bool = False) -> TrainOutcome:
    rates = [r["iterations_per_second"] for r in db.losses(store, row["training_id"], "train")
             if r["iterations_per_second"]]
    per_iteration = len(rates) / sum(1 / r for r in rates) if rates else None  # harmonic mean of it/s
    return TrainOutcome(
        seed=row["seed"], training_id=row["training_id"], adapter_dir=Path(row["adapter_dir"]), status=row["status"],
        best_iteration=row["best_iteration"], best_val_loss=row["best_val_loss"],
        last_iteration=row["last_iteration"], seconds=row["seconds"] or 0.0,
        seconds_per_iteration=1 / per_iteration if per_iteration else None, peak_memory=row["peak_memory"],
        skipped=skipped)
