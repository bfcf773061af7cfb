"""A LoRA adapter with random (non-zero) weights for an MLX model folder, saved as distill's training saves one."""

from __future__ import annotations

from pathlib import Path

from distill.models.mlx_runtime import load_mlx, load_mlx_model
from distill.training.checkpoint import save_adapter, write_adapter_config


def write_random_adapter(base_dir: Path, adapter_dir: Path, *, rank: int = 4, scale: float = 2.5,
                         num_layers: int = -1, keys: list[str] | None = None, seed: int = 0,
                         std: float = 0.05) -> Path:
    """`adapter_dir` with adapters.safetensors and adapter_config.json that `mlx_lm.load(base, adapter)` opens."""
    mx = load_mlx()
    from mlx.utils import tree_flatten, tree_unflatten
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model, _ = load_mlx_model(base_dir)
    model.freeze()
    parameters = {"rank": rank, "scale": scale, "dropout": 0.0, **({"keys": keys} if keys else {})}
    linear_to_lora_layers(model, num_layers, parameters)
    mx.random.seed(seed)
    # lora_b starts at zero in mlx-lm; a random one makes the adapter change the model
    randomised = [(name, mx.random.normal(value.shape) * std) for name, value in
                  tree_flatten(model.trainable_parameters())]
    model.update(tree_unflatten(randomised))
    adapter_dir.mkdir(parents=True, exist_ok=True)
    save_adapter(model, adapter_dir / "adapters.safetensors")
    write_adapter_config(adapter_dir, model=str(base_dir), num_layers=num_layers, lora_parameters=parameters,
                         extra={})
    return adapter_dir
