"""Resume checkpoints and the kept (best-validation) adapter of one training run.

An adapter directory holds what `mlx_lm.load(model, adapter_path=DIR)` needs, and the resume state:

    adapter_config.json        mlx-lm's adapter config (fine_tune_type, num_layers, lora_parameters)
    adapters.safetensors       the adapter with the best validation loss so far (replaced on improvement)
    last.safetensors           the adapter at the last iteration trained (written when training ends)
    checkpoint/it-0000200/     adapter, optimizer state and loop state after iteration 200
    checkpoint/latest          the name of the newest complete checkpoint directory

A checkpoint directory is written completely before `latest` is switched to it (atomically), and older ones are
removed only after that, so a training killed at any moment leaves a complete checkpoint to resume from.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distill.models.mlx_runtime import load_mlx

BEST = "adapters.safetensors"
CONFIG = "adapter_config.json"


@dataclass
class LoopState:
    """What a resume needs besides the weights: where the loop was and what it has kept."""

    iteration: int = 0
    best_iteration: int | None = None
    best_val_loss: float | None = None
    evals_since_best: int = 0
    seconds: float = 0.0
    trained_tokens: int = 0
    data: dict[str, str] = field(default_factory=dict)  # sha256 of the exported files trained on
    identity: dict[str, Any] = field(default_factory=dict)  # the config identity it was trained with


def save_adapter(model: Any, path: Path) -> None:
    """The model's trainable (LoRA) weights to `path`, atomically."""
    mx = load_mlx()
    from mlx.utils import tree_flatten

    tmp = path.with_name(f".{path.stem}.tmp.safetensors")
    mx.save_safetensors(str(tmp), dict(tree_flatten(model.trainable_parameters())))
    os.replace(tmp, path)


def write_adapter_config(adapter_dir: Path, *, model: str, num_layers: int, lora_parameters: dict[str, Any],
                         extra: dict[str, Any]) -> None:
    config = {"fine_tune_type": "lora", "model": model, "num_layers": num_layers,
              "lora_parameters": lora_parameters, **extra}
    tmp = adapter_dir / f".{CONFIG}.tmp"
    tmp.write_text(json.dumps(config, indent=2, default=str))
    os.replace(tmp, adapter_dir / CONFIG)


def save_checkpoint(adapter_dir: Path, model: Any, optimizer: Any, state: LoopState) -> Path:
    mx = load_mlx()
    from mlx.utils import tree_flatten

    root = adapter_dir / "checkpoint"
    root.mkdir(parents=True, exist_ok=True)
    name = f"it-{state.iteration:07d}"
    target = root / name
    staging = root / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    mx.save_safetensors(str(staging / "adapters.safetensors"), dict(tree_flatten(model.trainable_parameters())))
    mx.save_safetensors(str(staging / "optimizer.safetensors"), dict(tree_flatten(optimizer.state)))
    (staging / "state.json").write_text(json.dumps(asdict(state), indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    pointer = root / ".latest.tmp"
    pointer.write_text(name)
    os.replace(pointer, root / "latest")
    for old in root.iterdir():
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(adapter_dir: Path) -> Path | None:
    pointer = adapter_dir / "checkpoint" / "latest"
    if not pointer.is_file():
        return None
    path = adapter_dir / "checkpoint" / pointer.read_text().strip()
    return path if (path / "state.json").is_file() else None


def read_state(checkpoint: Path) -> LoopState:
    return LoopState(**json.loads((checkpoint / "state.json").read_text()))


def restore_checkpoint(checkpoint: Path, model: Any, optimizer: Any) -> LoopState:
    """Load the adapter weights into the model and the optimizer's state; returns the loop state."""
    mx = load_mlx()
    weights = mx.load(str(checkpoint / "adapters.safetensors"))
    model.load_weights(list(weights.items()), strict=False)
    optimizer.init(model.trainable_parameters())
    saved = mx.load(str(checkpoint / "optimizer.safetensors"))
    from mlx.utils import tree_flatten

    expected = {k for k, _ in tree_flatten(optimizer.state)}
    if set(saved) != expected:
        raise ValueError(f"{checkpoint}: the optimizer state does not match this model and optimizer "
                         f"({len(set(saved) ^ expected)} entries differ)")
    for key, value in saved.items():
        assign(optimizer.state, key.split("."), value)
    return read_state(checkpoint)


def assign(tree: Any, path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = path[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def clear(adapter_dir: Path) -> None:
    """Remove a training run's files (for a restart)."""
    for name in (BEST, CONFIG, "last.safetensors"):
        (adapter_dir / name).unlink(missing_ok=True)
    shutil.rmtree(adapter_dir / "checkpoint", ignore_errors=True)
