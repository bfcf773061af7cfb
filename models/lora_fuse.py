"""A LoRA adapter fused into its base model, and the fused model written as an MLX folder.

mlx-lm's `LoRALinear.fuse()` folds `W + scale * lora_b.T @ lora_a.T` into each adapted linear; the result is a
plain model whose weights carry the Hugging Face names mlx-lm uses (`model.layers.0.self_attn.q_proj.weight`).

    fused = fuse_adapter(base_dir, adapter_dir)
    write_mlx_folder(fused, out_dir, provenance={"adapter_sha256": ...})
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from distill.models.mlx_runtime import load_mlx, load_mlx_model
from distill.models.staging import staged_folder

ADAPTER_WEIGHTS = "adapters.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
EXPORT_MARKER = "export.json"
# Files of the base directory a fused folder does not copy: it writes its own weights, config and marker.
NOT_COPIED = ("config.json", "conversion.json", "model.safetensors.index.json", EXPORT_MARKER)


class StudentExportError(ValueError):
    """An adapter or base model that cannot be exported as asked; the message names the file and the fault."""


@dataclass
class FusedModel:
    """A base model with its adapter folded in: float32 weights under mlx-lm's (Hugging Face) names."""

    base_dir: Path
    adapter_dir: Path
    config: dict[str, Any]  # the base's config.json
    weights: dict[str, np.ndarray]
    tokenizer: Any
    fused_modules: list[str]


def read_adapter_config(adapter_dir: Path) -> dict[str, Any]:
    """The adapter's mlx-lm config, checked: a LoRA adapter with rank and scale, and its weights file present."""
    adapter_dir = Path(adapter_dir)
    path = adapter_dir / ADAPTER_CONFIG
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        raise StudentExportError(f"{adapter_dir}: no {ADAPTER_WEIGHTS} (was the adapter directory moved or cleared?)")
    try:
        config = json.loads(path.read_text())
    except OSError:
        raise StudentExportError(f"{adapter_dir}: no {ADAPTER_CONFIG}") from None
    except ValueError as exc:
        raise StudentExportError(f"{path}: not valid JSON ({exc})") from None
    kind = config.get("fine_tune_type", "lora")
    if kind != "lora":
        raise StudentExportError(f"{path}: fine_tune_type {kind!r}; only 'lora' adapters can be exported")
    params = config.get("lora_parameters") or {}
    if not isinstance(params.get("rank"), int) or not isinstance(params.get("scale"), int | float):
        raise StudentExportError(f"{path}: lora_parameters needs an integer rank and a scale, got {params}")
    return config


def adapter_tensors(adapter_dir: Path) -> dict[str, np.ndarray]:
    """The adapter's tensors (`model.layers.N.<module>.lora_a` (in, r) and `.lora_b` (r, out)) as numpy arrays."""
    from safetensors.numpy import load_file

    path = Path(adapter_dir) / ADAPTER_WEIGHTS
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types on corrupt files
        raise StudentExportError(f"{path}: unreadable safetensors ({type(exc).__name__}: {exc})") from None
    odd = sorted(name for name in tensors if not name.endswith((".lora_a", ".lora_b")))
    if odd:
        raise StudentExportError(f"{path}: tensors that are not LoRA pairs: {', '.join(odd[:5])}")
    return tensors


def fuse_adapter(base_dir: Path, adapter_dir: Path) -> FusedModel:
    """Load the base with the adapter and fold every LoRA layer into its linear (float32 throughout)."""
    mx = load_mlx()
    from mlx.utils import tree_flatten, tree_unflatten

    base_dir, adapter_dir = Path(base_dir), Path(adapter_dir)
    read_adapter_config(adapter_dir)
    try:
        config = json.loads((base_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise StudentExportError(f"{base_dir}: no readable config.json ({exc})") from None
    if "quantization" in config:
        raise StudentExportError(f"{base_dir}: a quantised MLX model; export needs a float base (distill's "
                                 "converted models are float32)")
    try:
        model, tokenizer = load_mlx_model(base_dir, adapter_dir)
    except ValueError as exc:  # mlx-lm's message lists the tensors that do not fit
        raise StudentExportError(f"the adapter {adapter_dir} does not fit the base {base_dir}: {exc}") from None
    fused = [(name, module.fuse()) for name, module in model.named_modules() if hasattr(module, "fuse")]
    if not fused:
        raise StudentExportError(f"{adapter_dir}: the adapter adapted no layer of {base_dir}")
    model.update_modules(tree_unflatten(fused))
    weights = {}
    for name, value in tree_flatten(model.parameters()):
        mx.eval(value)
        weights[name] = np.array(value.astype(mx.float32), copy=True)
    return FusedModel(base_dir, adapter_dir, config, weights, tokenizer, sorted(name for name, _ in fused))


def write_mlx_folder(fused: FusedModel, out_dir: Path, provenance: dict[str, Any], *, overwrite: bool = False) -> Path:
    """An MLX model folder `mlx_lm.load(out_dir)` opens: the fused weights, the base's config and tokenizer."""
    from safetensors.numpy import save_file

    out_dir = Path(out_dir).expanduser()
    check_target(out_dir, overwrite)
    with staged_folder(out_dir) as staging:
        save_file(fused.weights, str(staging / "model.safetensors"), metadata={"format": "mlx"})
        (staging / "config.json").write_text(json.dumps(fused.config, indent=2) + "\n")
        for item in fused.base_dir.iterdir():  # the tokenizer, chat template, generation config
            if item.is_file() and item.suffix != ".safetensors" and item.name not in NOT_COPIED:
                shutil.copy2(item, staging / item.name)
        (staging / EXPORT_MARKER).write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    return out_dir


def check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise StudentExportError(f"{path} already exists (pass --overwrite to replace it)")

