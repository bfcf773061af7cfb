"""The LoRA loop: mlx-lm's `tuner.trainer.train` with our callback doing what mlx-lm does not.

- **Validation and checkpoints** at iteration 0 and every `steps_per_eval` iterations (and the last), after
  exactly that many optimizer updates. mlx-lm's own validation is off (no val set is passed to it).
- **Best validation** (nanoGPT): the adapter is saved to `adapters.safetensors` only when the val loss
  improves; early stop after `patience` evaluations without improvement.
- **Resume**: a checkpoint holds adapter, optimizer state and loop state (iteration, best so far). A rerun
  restores them and starts the batch order at the next iteration (`BatchOrder`); the random stream is reseeded
  from (seed, iteration) at every checkpoint, so an interrupted run continues with the same losses.
- **Determinism**: `mx.random`, numpy and python are seeded from the training seed before the LoRA layers are
  made; the same seed gives the same losses.
- **Output**: mlx-lm's progress and loss lines are kept, but coloured at a terminal only (`terminal_colours`).
- **Several processes** (`training.distributed`): every rank runs this loop on its share of each batch; the
  loss is normalised by the whole batch's token count, so mlx-lm's averaged gradient is one process's at the
  same `batch_size`. Validation sums over all ranks; only rank 0 saves adapters and checkpoints and records
  losses; a start or resume begins from rank 0's state on every rank.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from distill.models.mlx_runtime import load_mlx
from distill.training.checkpoint import (
    BEST,
    LoopState,
    latest_checkpoint,
    restore_checkpoint,
    save_adapter,
    save_checkpoint,
    write_adapter_config,
)
from distill.training.config import TrainConfig
from distill.training.data import BatchOrder, PreparedData
from distill.training.distributed import Cluster

from distill import cancel

NEVER = 1 << 62  # mlx-lm's own evaluation and saving schedule: off


@contextlib.contextmanager
def terminal_colours() -> Iterator[None]:
    """mlx-lm prints its training progress with a console forced to truecolor, so a log file fills with ANSI codes
    (`\\x1b[1;32m` on every loss line). While it runs for us, its console colours a terminal only, as rich does by
    default, and NO_COLOR turns its styles off (as distill's own output)."""
    try:
        from mlx_lm import cli_ui
        from rich.console import Console
    except ImportError:  # another mlx-lm: its output as it is
        yield
        return
    made = cli_ui.make_console
    colours = None if os.environ.get("NO_COLOR") else "auto"
    cli_ui.make_console = lambda: Console(theme=cli_ui._make_theme(), highlight=False, color_system=colours)
    try:
        yield
    finally:
        cli_ui.make_console = made


class StopTraining(Exception):
    """Raised from the callback to end `train` early (patience spent)."""


@dataclass
class LoopResult:
    state: LoopState
    status: str  # finished | early_stopped
    resumed_from: int | None
    peak_memory: int
    train_losses: list[dict[str, Any]] = field(default_factory=list)
    val_losses: list[dict[str, Any]] = field(default_factory=list)


# Called at every evaluation with the losses since the previous one and the loop state (to persist them).
ProgressSink = Callable[[list[dict[str, Any]], LoopState], None]


def fmt_loss(loss: float | None) -> str:
    return "n/a" if loss is None else f"{loss:.4f}"


def seed_everything(seed: int) -> None:
    mx = load_mlx()
    mx.random.seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def stream_seed(seed: int, iteration: int) -> int:
    """The random seed for the stretch of training that starts at `iteration` (dropout draws)."""
    return (seed * 1_000_003 + iteration) % 2**32


def add_lora(model: Any, config: TrainConfig) -> None:
    load_mlx()
    from mlx_lm.tuner.utils import linear_to_lora_layers

    if config.num_layers > len(model.layers):
        raise ValueError(f"num_layers {config.num_layers} > the model's {len(model.layers)} layers (-1 = all)")
    model.freeze()
    linear_to_lora_layers(model, config.num_layers, config.lora.mlx())


def masked_cross_entropy(model: Any, batch: Any, lengths: Any) -> tuple[Any, Any]:
    """mlx-lm's `default_loss` before its division: the cross-entropy summed over the trained tokens, and their
    count."""
    mx = load_mlx()
    import mlx.nn as nn

    inputs, targets = batch[:, :-1], batch[:, 1:]
    logits = model(inputs)
    steps = mx.arange(1, targets.shape[1] + 1)
    mask = mx.logical_and(steps >= lengths[:, 0:1], steps <= lengths[:, 1:])
    return (nn.losses.cross_entropy(logits, targets) * mask).astype(mx.float32).sum(), mask.sum()


def whole_batch_loss(group: Any) -> Callable[..., Any]:
    """The training loss on a rank's share, normalised by the token count of the whole batch (all ranks) times the
    group size: mlx-lm averages the ranks' gradients and reported losses, which makes both the whole batch's mean."""
    mx = load_mlx()
    size = group.size()

    def loss(model: Any, batch: Any, lengths: Any) -> tuple[Any, Any]:
        ce, ntoks = masked_cross_entropy(model, batch, lengths)
        total = mx.stop_gradient(mx.distributed.all_sum(ntoks, group=group, stream=mx.cpu))
        return ce * size / mx.maximum(total, 1), ntoks

    return loss


def share_loss(model: Any, batch: Any, lengths: Any) -> tuple[Any, Any]:
    """`default_loss` that gives 0, not NaN, for a rank's empty share of a validation batch."""
    ce, ntoks = masked_cross_entropy(model, batch, lengths)
    return ce / load_mlx().maximum(ntoks, 1), ntoks


def make_optimizer(config: TrainConfig) -> Any:
    load_mlx()
    import mlx.optimizers as optim

    if config.optimizer == "adamw":
        return optim.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    return optim.Adam(learning_rate=config.learning_rate)


class Loop:
    """One training run of one seed on prepared data, writing into `adapter_dir`."""

    def __init__(self, model: Any, data: PreparedData, config: TrainConfig, *, seed: int, adapter_dir: Path,
                 model_path: str, data_hashes: dict[str, str], sink: ProgressSink | None = None,
                 preflight: Callable[[Any], None] | None = None, log: Callable[[str], None] = print,
                 cluster: Cluster | None = None):
        self.model, self.data, self.config, self.seed = model, data, config, seed
        self.cluster = cluster
        self.writer = cluster is None or cluster.leader  # saves adapters and checkpoints, records losses
        self.rank = 0 if cluster is None else cluster.rank
        self.adapter_dir, self.model_path, self.data_hashes = Path(adapter_dir), model_path, data_hashes
        self.sink, self.preflight, self.log = sink, preflight, log
        self.pending: list[dict[str, Any]] = []
        self.all_train: list[dict[str, Any]] = []
        self.all_val: list[dict[str, Any]] = []
        self.state = LoopState(data=data_hashes, identity=config.identity())
        self.offset = 0
        self.tokens_reported = 0
        self.clock = time.perf_counter()

    # -- the callback protocol of mlx_lm.tuner.trainer.train ----------------------------------------------
    def on_train_loss_report(self, info: dict[str, Any]) -> None:
        cancel.check()  # a service job's cancel, like Ctrl-C: the last checkpoint resumes it
        iteration = self.offset + int(info["iteration"])
        tokens = int(info["trained_tokens"]) - self.tokens_reported
        self.tokens_reported = int(info["trained_tokens"])
        self.state.trained_tokens += tokens
        self.pending.append({"split": "train", "iteration": iteration, "loss": float(info["train_loss"]),
                             "tokens": tokens, "learning_rate": float(info["learning_rate"]),
                             "iterations_per_second": float(info["iterations_per_second"]),
                             "tokens_per_second": float(info["tokens_per_second"]),
                             "peak_memory_gb": float(info["peak_memory"])})
        if iteration % self.config.steps_per_eval == 0 or iteration == self.config.iters:
            self.evaluate(iteration)

    def on_val_loss_report(self, info: dict[str, Any]) -> None:  # mlx-lm's validation is off
        pass

    # -- evaluation, best adapter, checkpoint --------------------------------------------------------------
    def evaluate(self, iteration: int) -> None:
        load_mlx()
        from mlx_lm.tuner.trainer import evaluate

        started = time.perf_counter()
        extra = {} if self.cluster is None else {"loss": share_loss}
        val_loss = evaluate(model=self.model, dataset=self.data.valid, batch_size=self.config.batch_size,
                            num_batches=self.config.val_batches, max_seq_length=self.data.max_seq_length,
                            iterate_batches=BatchOrder(self.seed), **extra)
        self.model.train()
        row = {"split": "valid", "iteration": iteration, "loss": float(val_loss), "tokens": None,
               "learning_rate": None, "iterations_per_second": None, "tokens_per_second": None,
               "peak_memory_gb": None}
        self.pending.append(row)
        state = self.state
        improved = math.isfinite(val_loss) and (state.best_val_loss is None
                                                or val_loss < state.best_val_loss - self.config.min_delta)
        if improved:
            state.best_iteration, state.best_val_loss, state.evals_since_best = iteration, float(val_loss), 0
            if self.writer:
                save_adapter(self.model, self.adapter_dir / BEST)
        else:
            state.evals_since_best += 1
        state.iteration = iteration
        now = time.perf_counter()
        state.seconds += now - self.clock
        self.clock = now
        self._persist()
        if self.writer:
            save_checkpoint(self.adapter_dir, self.model, self.optimizer, state)
            mark = "  best" if improved else f"  (best {fmt_loss(state.best_val_loss)} at {state.best_iteration})"
            self.log(f"iter {iteration:>6}  val loss {val_loss:.4f}  ({time.perf_counter() - started:.1f} s){mark}")
        self.reseed(iteration)
        patience = self.config.patience
        if patience is not None and state.evals_since_best >= patience and iteration < self.config.iters:
            raise StopTraining(f"no improvement in {patience} evaluations")

    def _persist(self) -> None:
        self.all_train += [r for r in self.pending if r["split"] == "train"]
        self.all_val += [r for r in self.pending if r["split"] == "valid"]
        if self.sink is not None and self.writer:
            self.sink(self.pending, self.state)
        self.pending = []

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> LoopResult:
        mx = load_mlx()
        from mlx_lm.tuner.trainer import TrainingArgs, train

        config = self.config
        if self.cluster is None:
            resumed_from = self._start()
        else:  # every rank reports whether it could start; then all begin from rank 0's state
            failure = None
            try:
                resumed_from = self._start()
            except Exception as exc:  # noqa: BLE001  (re-raised on this rank by start_together)
                failure, resumed_from = exc, None
            resumed_from = self.cluster.start_together(failure, self, resumed_from)
        if resumed_from is not None:
            self.offset = resumed_from
            if self.writer:
                self.log(f"resuming at iteration {self.offset} (best val loss {fmt_loss(self.state.best_val_loss)} "
                         f"at {self.state.best_iteration}); mlx-lm's progress counts from there")
        else:
            self.evaluate(0)  # the base model: iteration 0, the first best
        status = "finished"
        if self.state.evals_since_best >= (config.patience or NEVER) and self.offset < config.iters:
            status = "early_stopped"
        elif self.offset < config.iters:
            self.reseed(self.offset)
            self.clock = time.perf_counter()
            args = TrainingArgs(
                batch_size=config.batch_size, iters=config.iters - self.offset, val_batches=config.val_batches,
                steps_per_report=config.steps_per_report, steps_per_eval=NEVER, steps_per_save=NEVER,
                max_seq_length=self.data.max_seq_length, adapter_file=str(self.adapter_dir / "last.safetensors"),
                grad_checkpoint=config.grad_checkpoint, grad_accumulation_steps=config.grad_accumulation_steps)
            extra = {} if self.cluster is None else {"loss": whole_batch_loss(self.cluster.group)}
            try:
                with terminal_colours():
                    train(self.model, self.optimizer, self.data.train, None, args=args,
                          iterate_batches=BatchOrder(self.seed, start=self.offset), training_callback=self, **extra)
            except StopTraining as stop:
                status = "early_stopped"
                if self.writer:
                    self.log(f"early stop at iteration {self.state.iteration}: {stop}")
        if self.writer:
            save_adapter(self.model, self.adapter_dir / "last.safetensors")  # also when stopped early or resumed
        if self.cluster is not None:
            self.cluster.waiting = True  # every rank has left the loop: the others wait for rank 0's next message
        return LoopResult(self.state, status, resumed_from, int(mx.get_peak_memory()), self.all_train, self.all_val)

    def _start(self) -> int | None:
        """LoRA layers, the pre-flight and the optimizer; on the writer, the adapter config and the latest
        checkpoint restored. Returns the iteration resumed from (None: a fresh start)."""
        config = self.config
        if not self.data.train or not self.data.valid:
            raise ValueError(f"need training and validation examples (have {len(self.data.train)} train, "
                             f"{len(self.data.valid)} valid after length checks)")
        seed_everything(self.seed)
        add_lora(self.model, config)
        if self.preflight is not None:
            self.preflight(self.model)  # before step 1: may refuse
        self.optimizer = make_optimizer(config)
        checkpoint = None
        if self.writer:
            self.adapter_dir.mkdir(parents=True, exist_ok=True)
            write_adapter_config(self.adapter_dir, model=self.model_path, num_layers=config.num_layers,
                                 lora_parameters=config.lora.mlx(), extra={"seed": self.seed})
            checkpoint = latest_checkpoint(self.adapter_dir)
        load_mlx().reset_peak_memory()
        if checkpoint is None:
            self.optimizer.init(self.model.trainable_parameters())
            return None
        self.state = restore_checkpoint(checkpoint, self.model, self.optimizer)
        self._check_resumable()
        return self.state.iteration

    def reseed(self, iteration: int) -> None:
        """The random stream for the stretch from `iteration` on (dropout); each rank draws its own."""
        load_mlx().random.seed((stream_seed(self.seed, iteration) + self.rank) % 2**32)

    def _check_resumable(self) -> None:
        if self.state.data != self.data_hashes:
            raise ValueError(f"{self.adapter_dir}: the checkpoint was trained on other data (the export changed); "
                             "restart the training to use the new data")
        if self.state.identity != self.config.identity():
            changed = sorted(k for k in self.state.identity.keys() | self.config.identity().keys()
                             if self.state.identity.get(k) != self.config.identity().get(k))
            raise ValueError(f"{self.adapter_dir}: the checkpoint was trained with other settings "
                             f"({', '.join(changed)}); use the original settings, or restart the training")
