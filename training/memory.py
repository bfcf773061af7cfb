"""Memory pre-flight: estimate the peak memory of a LoRA training step before step 1, and refuse to start when
it cannot fit.

The estimate adds up, in the model's dtype:
- the model's weights (every parameter, counted);
- the LoRA parameters with their gradients and the optimizer's two moments (Adam/AdamW);
- the activations kept for the backward pass: per layer and token, the block's hidden-size and MLP-size
  tensors, plus the attention scores (batch x heads x length^2) per layer;
- the logits and their gradient (batch x length x vocabulary), the largest single tensors of a small model.
The activation terms carry a factor measured against `mx.get_peak_memory()` on the default student (float32,
CPU; see tests/training/test_memory.py), so the estimate is an upper bound in practice, not an exact figure.

Available memory: on Apple Silicon, Metal's recommended working set (`mx.device_info()`); on Linux, the smaller
of MemAvailable (/proc/meminfo) and the cgroup's limit minus its usage; elsewhere the physical memory.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.models.mlx_runtime import load_mlx

# With this factor, mx.get_peak_memory() / estimate on SmolLM2-135M float32 (CPU, OpenBLAS, all layers adapted) was
# 0.89, 0.79, 0.76, 0.65 at (batch, length) = (1, 128), (2, 256), (4, 256), (1, 1024): an upper bound with a margin.
ACTIVATION_FACTOR = 1.25
GiB = 1024**3


class InsufficientMemory(RuntimeError):
    """Training would not fit in memory; the message gives the estimate and what to change."""


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    trainable: int
    weights: int
    lora_state: int
    activations: int
    logits: int
    available: int | None
    available_from: str

    @property
    def total(self) -> int:
        return self.weights + self.lora_state + self.activations + self.logits

    def describe(self) -> str:
        parts = (f"weights {self.weights / GiB:.2f} GiB ({self.parameters:,} parameters), LoRA + gradients + "
                 f"optimizer {self.lora_state / GiB:.3f} GiB ({self.trainable:,} trainable), activations "
                 f"{self.activations / GiB:.2f} GiB, logits {self.logits / GiB:.2f} GiB")
        available = "unknown" if self.available is None else f"{self.available / GiB:.1f} GiB"
        return f"estimated peak {self.total / GiB:.2f} GiB ({parts}); available {available} ({self.available_from})"


def count_parameters(model: Any) -> tuple[int, int, int]:
    """(all parameters, trainable parameters, bytes per parameter of the weights)."""
    from mlx.utils import tree_flatten

    params = tree_flatten(model.parameters())
    total = sum(v.size for _, v in params)
    trainable = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))
    itemsize = max((v.dtype.size for _, v in params), default=4)
    return total, trainable, itemsize


def model_shape(model: Any) -> dict[str, int]:
    """hidden size, MLP size, heads, kv width, layers and vocabulary, read from the model's modules."""
    args = getattr(model, "args", None)
    hidden = int(getattr(args, "hidden_size", 0))
    heads = int(getattr(args, "num_attention_heads", 0) or 1)
    kv_heads = int(getattr(args, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(args, "head_dim", None) or (hidden // heads if hidden else 0))
    return {
        "hidden": hidden, "mlp": int(getattr(args, "intermediate_size", 0) or 4 * hidden), "heads": heads,
        "kv": kv_heads * head_dim, "layers": len(model.layers), "vocab": int(getattr(args, "vocab_size", 0)),
    }


def estimate_peak(model: Any, *, batch_size: int, max_seq_length: int, grad_checkpoint: bool = False,
                  available: tuple[int | None, str] | None = None) -> MemoryEstimate:
    total, trainable, itemsize = count_parameters(model)
    shape = model_shape(model)
    tokens = batch_size * max_seq_length
    per_layer = tokens * (10 * shape["hidden"] + 4 * shape["mlp"] + 4 * shape["kv"]) * 4 \
        + 2 * batch_size * shape["heads"] * max_seq_length**2 * 4
    kept_layers = 1 if grad_checkpoint else shape["layers"]
    activations = int(ACTIVATION_FACTOR * (per_layer * kept_layers + tokens * shape["hidden"] * 4 * shape["layers"]))
    logits = int(ACTIVATION_FACTOR * 3 * tokens * shape["vocab"] * 4)
    found = available if available is not None else available_memory()
    return MemoryEstimate(total, trainable, total * itemsize, trainable * 4 * 4, activations, logits, *found)


def available_memory() -> tuple[int | None, str]:
    """(bytes this process can still use, where that figure comes from)."""
    mx = load_mlx()
    if sys.platform == "darwin" and mx.metal.is_available():
        info = mx.device_info()
        size = info.get("max_recommended_working_set_size") or info.get("memory_size")
        if size:
            return int(size), "Metal recommended working set"
    if sys.platform.startswith("linux"):
        found = _meminfo_available()
        limit = _cgroup_headroom()
        if found is not None and limit is not None and limit < found:
            return limit, "cgroup memory.max minus memory.current"
        if found is not None:
            return found, "/proc/meminfo MemAvailable"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "physical memory"
    except (ValueError, OSError, AttributeError):
        return None, "unknown on this platform"


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return int(limit) - used
    except (OSError, ValueError):
        return None


def check_fits(estimate: MemoryEstimate, *, batch_size: int, max_seq_length: int) -> None:
    """Raise with the estimate and what to change when it exceeds the available memory."""
    if estimate.available is None or estimate.total <= estimate.available:
        return
    raise InsufficientMemory(
        f"training would not fit in memory: {estimate.describe()}. Lower batch_size (now {batch_size}) or "
        f"max_seq_length (now {max_seq_length}; examples longer are cut and counted), or set grad_checkpoint = "
        "true; memory_check = false skips this check")
