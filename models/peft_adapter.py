"""An MLX LoRA adapter as a PEFT adapter folder (what `peft.PeftModel.from_pretrained` and vLLM's LoRA modules load),
and back.

MLX adds `scale * (x @ lora_a) @ lora_b` with `lora_a` (in, r) and `lora_b` (r, out). PEFT adds
`(lora_alpha / r) * lora_B(lora_A(x))` with `lora_A.weight` (r, in) and `lora_B.weight` (out, r). So:

    base_model.model.<module>.lora_A.weight = lora_a.T      lora_B.weight = lora_b.T      lora_alpha = scale * r

The folder holds `adapter_model.safetensors` and `adapter_config.json` (target_modules as trained; the adapted
layers in `layers_to_transform` when not every layer was adapted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from distill.models.lora_fuse import (
    StudentExportError,
    adapter_tensors,
    check_target,
    read_adapter_config,
)
from distill.models.staging import staged_folder

PEFT_WEIGHTS = "adapter_model.safetensors"
PEFT_CONFIG = "adapter_config.json"
PEFT_PREFIX = "base_model.model."
_MLX_NAME = re.compile(r"^(model\.layers\.(\d+)\.(.+))\.lora_([ab])$")
_PEFT_NAME = re.compile(r"^base_model\.model\.(model\.layers\.\d+\..+)\.lora_([AB])\.weight$")


@dataclass
class PeftAdapter:
    """A LoRA adapter in PEFT's terms: tensors under PEFT names, and its adapter_config.json."""

    tensors: dict[str, np.ndarray]
    config: dict[str, Any]


def to_peft(tensors: dict[str, np.ndarray], lora_parameters: dict[str, Any], *, base_model: str,
            num_hidden_layers: int | None = None) -> PeftAdapter:
    """MLX adapter tensors (`model.layers.N.<module>.lora_a|lora_b`) and lora_parameters -> a PEFT adapter."""
    rank, scale = int(lora_parameters["rank"]), float(lora_parameters["scale"])
    out: dict[str, np.ndarray] = {}
    modules: set[str] = set()
    layers: set[int] = set()
    for name, value in tensors.items():
        match = _MLX_NAME.match(name)
        if match is None:
            raise StudentExportError(f"adapter tensor {name!r} is not model.layers.N.<module>.lora_a|lora_b")
        module, layer, short, which = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        if value.ndim != 2 or value.shape[1 if which == "a" else 0] != rank:
            raise StudentExportError(f"adapter tensor {name}: shape {value.shape} does not fit rank {rank} "
                                     "(lora_a is (in, r), lora_b is (r, out))")
        out[f"{PEFT_PREFIX}{module}.lora_{which.upper()}.weight"] = np.ascontiguousarray(value.T, dtype=np.float32)
        modules.add(short.rsplit(".", 1)[-1])
        layers.add(layer)
    pairs = {name.rsplit(".lora_", 1)[0] for name in out}
    for module in pairs:
        if f"{module}.lora_A.weight" not in out or f"{module}.lora_B.weight" not in out:
            raise StudentExportError(f"adapter module {module.removeprefix(PEFT_PREFIX)} lacks lora_a or lora_b")
    alpha = scale * rank
    every_layer = num_hidden_layers is not None and layers == set(range(num_hidden_layers))
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_model,
        "r": rank, "lora_alpha": int(alpha) if alpha.is_integer() else alpha,
        "lora_dropout": float(lora_parameters.get("dropout", 0.0)), "target_modules": sorted(modules),
        "layers_to_transform": None if every_layer else sorted(layers), "layers_pattern": None if every_layer
        else "layers", "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False,
        "init_lora_weights": True, "modules_to_save": None, "inference_mode": True,
    }
    return PeftAdapter(out, config)


def from_peft(adapter: PeftAdapter) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A PEFT LoRA adapter -> MLX adapter tensors and lora_parameters (`scale = lora_alpha / r`)."""
    config = adapter.config
    if config.get("peft_type") != "LORA" or config.get("use_dora") or config.get("use_rslora"):
        raise StudentExportError("only plain PEFT LoRA adapters (no DoRA, no rsLoRA) map onto MLX LoRA")
    tensors: dict[str, np.ndarray] = {}
    for name, value in adapter.tensors.items():
        match = _PEFT_NAME.match(name)
        if match is None:
            raise StudentExportError(f"PEFT tensor {name!r} is not base_model.model.model.layers.N.<module>."
                                     "lora_A|lora_B.weight")
        tensors[f"{match.group(1)}.lora_{match.group(2).lower()}"] = np.ascontiguousarray(value.T)
    rank = int(config["r"])
    parameters = {"rank": rank, "scale": float(config["lora_alpha"]) / rank, "dropout": config.get("lora_dropout", 0.0)}
    return tensors, parameters


def write_peft_folder(adapter_dir: Path, out_dir: Path, *, base_model: str, num_hidden_layers: int | None = None,
                      overwrite: bool = False) -> PeftAdapter:
    """Write the PEFT folder of an MLX adapter directory (atomically: complete or not there)."""
    from safetensors.numpy import save_file

    config = read_adapter_config(adapter_dir)
    adapter = to_peft(adapter_tensors(adapter_dir), config["lora_parameters"], base_model=base_model,
                      num_hidden_layers=num_hidden_layers)
    out_dir = Path(out_dir).expanduser()
    check_target(out_dir, overwrite)
    with staged_folder(out_dir) as staging:
        save_file(adapter.tensors, str(staging / PEFT_WEIGHTS), metadata={"format": "pt"})
        (staging / PEFT_CONFIG).write_text(json.dumps(adapter.config, indent=2) + "\n")
    return adapter


def read_peft_folder(folder: Path) -> PeftAdapter:
    from safetensors.numpy import load_file

    folder = Path(folder)
    try:
        return PeftAdapter(load_file(str(folder / PEFT_WEIGHTS)), json.loads((folder / PEFT_CONFIG).read_text()))
    except (OSError, ValueError) as exc:
        raise StudentExportError(f"{folder}: not a readable PEFT adapter folder ({exc})") from None
