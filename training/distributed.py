"""Data-parallel LoRA over several processes, on MLX's own distributed backend (`mlx.launch`).

`distill train --processes N` (one machine) or `--hostfile FILE` (several) starts `distill train` once per rank
with `mlx.launch`; a `distill train` started by `mlx.launch` directly does the same. Every rank runs the same
loop (`training.loop.Loop`) on its share of each batch (`training.data.BatchOrder`); mlx-lm's trainer averages
the gradients over the group, and our loss is normalised by the token count of the whole batch, so N processes
take the same steps as one process at the same `batch_size`.

Only rank 0 opens the store (DuckDB allows one writing process) or touches the run's files: it exports the data
when needed, records the run and its losses, and writes the adapter and the checkpoints. The other ranks get
what they need from rank 0 over the group itself: the exported train/valid lines (checked against the export's
sha256) and the training config at the start, and before each seed the loop state with the adapter and
optimizer state rank 0 starts from (its checkpoint, on a resume). So another host needs distill and the student
model, and no store, export folder or shared disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from distill.models.mlx_runtime import load_mlx

STATUS_ENV = "DISTILL_LAUNCH_STATUS"  # rank 0 writes its exit code there for `distill train --processes`
LAUNCH_ENVS = ("MLX_RANK", "MLX_HOSTFILE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MLX_WORLD_SIZE")


class DistributedError(Exception):
    """A multi-process training that cannot start or continue (a missing backend, a rank that refused)."""


class StopFollowing(Exception):
    """Raised on ranks > 0 when rank 0 ended the job (an error it reports itself, or the end)."""


class Cluster:
    """The communication group of a multi-process training, and rank 0's messages to the others."""

    def __init__(self, group: Any):
        self.group = group
        self.rank, self.size = group.rank(), group.size()
        self.waiting = True  # the other ranks wait for rank 0's next message (not inside a training loop)
        self.agreed_failure: BaseException | None = None  # this rank's failure, known to all ranks

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def _from_leader(self, array: Any) -> Any:
        mx = load_mlx()
        return mx.distributed.all_sum(array if self.leader else mx.zeros_like(array), group=self.group,
                                      stream=mx.cpu)

    def share(self, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Rank 0's `message` (JSON) on every rank; the others pass nothing."""
        mx = load_mlx()
        data = json.dumps(message).encode() if self.leader else b""
        length = int(self._from_leader(mx.array([len(data)], mx.int32)).item())
        buffer = np.frombuffer(data, np.uint8) if self.leader else np.zeros(length, np.uint8)
        received = json.loads(bytes(np.array(self._from_leader(mx.array(buffer)))))
        if received["kind"] in ("job", "seed", "stop", "done"):
            self.waiting = received["kind"] == "job"  # after a seed: waiting again once its loop has returned
        return received

    def share_arrays(self, pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        mx = load_mlx()
        shared = [(key, self._from_leader(value)) for key, value in pairs]
        mx.eval([value for _, value in shared])
        return shared

    def failures(self, failed: bool) -> int:
        """How many ranks report a failure (a collective: every rank calls it at the same point)."""
        mx = load_mlx()
        return int(mx.distributed.all_sum(mx.array([int(failed)], mx.int32), group=self.group,
                                          stream=mx.cpu).item())

    def start_together(self, failure: BaseException | None, loop: Any, resumed_from: int | None) -> int | None:
        """Every rank reports whether it could start the seed; then rank 0's loop state, adapter and optimizer
        state go to all. Raises on every rank when any failed."""
        from distill.training.checkpoint import LoopState, assign
        from mlx.utils import tree_flatten

        failed = self.failures(failure is not None)
        if failed:
            if failure is not None:
                self.agreed_failure = failure
                raise failure
            if not self.leader:
                raise StopFollowing()  # rank 0 reports its own failure
            raise DistributedError(f"{failed} of the {self.size} processes could not start (see their messages)")
        start = self.share({"kind": "start", "state": asdict(loop.state), "resumed_from": resumed_from}
                           if self.leader else None)
        loop.state = LoopState(**start["state"])
        loop.model.load_weights(self.share_arrays(tree_flatten(loop.model.trainable_parameters())), strict=False)
        for key, value in self.share_arrays(tree_flatten(loop.optimizer.state)):
            assign(loop.optimizer.state, key.split("."), value)
        return start["resumed_from"]


def current() -> Cluster | None:
    """The group this process was launched in (by `mlx.launch` or mpirun), or None for a single process."""
    if not any(name in os.environ for name in LAUNCH_ENVS):
        return None
    group = load_mlx().distributed.init()
    return Cluster(group) if group.size() > 1 else None


# -- rank 0: what the others need ----------------------------------------------------------------------------
def job_message(config: Any, folder: Path, hashes: dict[str, str], data: Any, model: Any) -> dict[str, Any]:
    return {"kind": "job", "config": config.model_dump(mode="json"), "hashes": hashes,
            "token_counts": token_counts(data), "weights": weights_fingerprint(model),
            "lines": {split: (Path(folder) / f"{split}.jsonl").read_text(encoding="utf-8")
                      for split in ("train", "valid")}}


def token_counts(data: Any) -> dict[str, int]:
    return {split: sum(len(tokens) for tokens, _ in getattr(data, split)) for split in ("train", "valid")}


def weights_fingerprint(model: Any) -> float:
    """The sum of |w| over the base model's weights: every host must train the same model."""
    mx = load_mlx()
    from mlx.utils import tree_flatten

    total = sum(mx.abs(value.astype(mx.float32)).sum() for _, value in tree_flatten(model.parameters()))
    return float(total.item())


# -- ranks > 0 -------------------------------------------------------------------------------------------------
def follow(cluster: Cluster, log: Callable[[str], None]) -> None:
    """Train as rank 0 says, writing nothing; returns when rank 0 is done (or stopped with an error it reports)."""
    from distill.models.mlx_runtime import load_mlx_model
    from distill.models.registry import resolve_mlx_dir
    from distill.training.config import TrainConfig
    from distill.training.data import prepare_rows
    from distill.training.loop import Loop
    from distill.training.memory import check_fits, estimate_peak

    job = cluster.share()
    if job["kind"] != "job":
        return
    config = TrainConfig.model_validate(job["config"])
    problem: Exception | None = None  # reported to rank 0 when the first seed starts, where all ranks agree
    try:
        for split, text in job["lines"].items():
            if hashlib.sha256(text.encode("utf-8")).hexdigest() != job["hashes"][split]:
                raise DistributedError(f"the {split} lines received differ from rank 0's export")
        rows = {split: [json.loads(line) for line in text.splitlines() if line.strip()]
                for split, text in job["lines"].items()}
        model_dir = resolve_mlx_dir(config.model)
        loaded = [load_mlx_model(model_dir)]
        data = prepare_rows(rows, loaded[0][1], mask_prompt=config.mask_prompt,
                            max_seq_length=config.max_seq_length, cap=config.max_seq_length_cap)
        if token_counts(data) != job["token_counts"]:
            raise DistributedError(f"{model_dir} tokenises the data otherwise than rank 0's model "
                                   f"({token_counts(data)} tokens, rank 0 {job['token_counts']}): every host needs "
                                   "the same model")
        weights = weights_fingerprint(loaded[0][0])
        if abs(weights - job["weights"]) > 1e-5 * abs(job["weights"]):
            raise DistributedError(f"{model_dir} has other weights than rank 0's model (sum |w| {weights:.6g}, rank 0 "
                                   f"{job['weights']:.6g}): every host needs the same model")
    except Exception as exc:  # noqa: BLE001  (any of them: reported at the start of the first seed)
        problem = exc

    def preflight(model: Any) -> None:
        if config.memory_check:
            share = per_process_batch(config.batch_size, cluster.size)
            check_fits(estimate_peak(model, batch_size=share, max_seq_length=data.max_seq_length,
                                     grad_checkpoint=config.grad_checkpoint),
                       batch_size=share, max_seq_length=data.max_seq_length)

    while True:
        message = cluster.share()
        if message["kind"] != "seed":
            return
        if problem is not None:
            cluster.failures(True)  # rank 0's Loop.run is in Cluster.start_together
            cluster.agreed_failure = problem
            raise problem
        model, _ = loaded.pop() if loaded else load_mlx_model(model_dir)
        loop = Loop(model, data, config, seed=message["seed"], adapter_dir=Path(message["adapter_dir"]),
                    model_path=str(model_dir), data_hashes=job["hashes"], preflight=preflight, cluster=cluster,
                    log=log)
        loop.run()


def per_process_batch(batch_size: int, processes: int) -> int:
    return -(-batch_size // processes)


# -- the launcher ----------------------------------------------------------------------------------------------
def check_backend(backend: str = "ring") -> None:
    """Refuse, with the reason, when this MLX cannot run `backend` or `mlx.launch` is missing."""
    try:
        mx = load_mlx()
    except ImportError as exc:
        raise DistributedError(f"MLX is not importable here ({exc})") from exc
    if not mx.distributed.is_available(backend=backend):
        known = [b for b in ("ring", "mpi", "nccl", "jaccl") if mx.distributed.is_available(backend=b)]
        raise DistributedError(f"this MLX build ({mx.__version__}, {sys.platform}) has no {backend!r} backend "
                               f"(available: {', '.join(known) or 'none'})")
    if launcher() is None:
        raise DistributedError("this MLX has no mlx.launch (mlx._distributed_utils.launch)")


# mlx.launch, with Ctrl-C left to the ranks: it keeps relaying their output while they stop (rank 0 records the
# run as interrupted), instead of dying with a traceback. (A Python handler, unlike SIG_IGN, is not inherited.)
LAUNCHER = ("import signal, sys; signal.signal(signal.SIGINT, lambda *_: None); "
            "from mlx._distributed_utils.launch import main; sys.argv[0] = 'mlx.launch'; main()")


def launcher() -> list[str] | None:
    try:
        import mlx._distributed_utils.launch  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-c", LAUNCHER]


def free_ports(count: int) -> int:
    """A first port such that `count` consecutive local ports are free now (the ring backend's listeners)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count >= 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as taken:
                    taken.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise DistributedError(f"found no {count} consecutive free local ports for the ring backend")


def launch_command(command: list[str], *, processes: int | None, hostfile: Path | None, status_file: Path,
                   backend: str | None = None) -> list[str]:
    """`mlx.launch` running `command` (a `distill train` without --processes) on every rank."""
    argv = [*(launcher() or []), "--env", f"{STATUS_ENV}={status_file}"]
    if hostfile is not None:
        argv += ["--hostfile", str(hostfile)]
        if backend:
            argv += ["--backend", backend]
    else:
        argv += ["--backend", backend or "ring", "-n", str(processes), "--starting-port", str(free_ports(processes))]
    return [*argv, "--", *command]


def write_status(code: int) -> None:
    """Rank 0's exit code, for the `distill train --processes` that launched it (mlx.launch exits 0 regardless)."""
    path = os.environ.get(STATUS_ENV)
    if path and os.environ.get("MLX_RANK", "0") == "0":
        Path(path).write_text(str(code))


def read_status(path: Path) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def hostfile_backend(hostfile: Path) -> tuple[int, str]:
    """(hosts, backend) of an `mlx.launch` hostfile (the backend defaults to ring)."""
    try:
        data = json.loads(Path(hostfile).read_text())
    except (OSError, ValueError) as exc:
        raise DistributedError(f"{hostfile}: not a readable mlx.launch hostfile ({exc})") from exc
    hosts = data.get("hosts", []) if isinstance(data, dict) else data
    backend = (data.get("backend") if isinstance(data, dict) else None) or "ring"
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, dict) and "ssh" in h for h in hosts):
        raise DistributedError(f"{hostfile}: needs a list of hosts, each with 'ssh' (and 'ips' for the ring backend)")
    return len(hosts), backend
