"""A fused MLX model written back as a GGUF file llama.cpp loads (llama and qwen2; float16 or float32).

mlx-lm's own `fuse --export-gguf` handles only llama/mistral/mixtral and writes files llama.cpp rejects, so the
GGUF is built here from the base model's original GGUF (the one `distill models convert` made the MLX folder
from, named in its `conversion.json`): every metadata key is copied (architecture, hyper-parameters,
tokenizer, chat template), the file type is set to F32/F16, and every tensor is replaced by the fused weight of
the same name, with llama's q/k rows permuted back into llama.cpp's rotary order. One-dimensional tensors
(norms, biases) stay float32, as llama.cpp's own converter writes them.

    write_gguf(fused.weights, source_gguf_for(base_dir), "student.gguf", dtype="f16", metadata={...})
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from distill.models.gguf_to_mlx import file_sha256, permute_rotary, read_marker
from distill.models.lora_fuse import StudentExportError, check_target
from distill.models.staging import replace_path

GGUF_ARCHITECTURES = ("llama", "qwen2")
DTYPES = ("f16", "f32")
_MODULES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}
_GLOBALS = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")
# Keys the writer sets itself, or that describe the source's quantisation rather than the model.
_NOT_COPIED = ("general.architecture", "general.file_type", "general.quantization_version")


def gguf_tensor_name(hf_name: str) -> str:
    """`model.layers.3.self_attn.q_proj.weight` -> `blk.3.attn_q.weight` (the inverse of `hf_tensor_name`)."""
    layer = _LAYER.match(hf_name)
    if layer and layer.group(2) in _MODULES:
        return f"blk.{layer.group(1)}.{_MODULES[layer.group(2)]}.{layer.group(3)}"
    stem, _, kind = hf_name.rpartition(".")
    if stem in _GLOBALS and kind in ("weight", "bias"):
        return f"{_GLOBALS[stem]}.{kind}"
    raise KeyError(hf_name)


def source_gguf_for(base_dir: Path) -> Path:
    """The GGUF file an MLX base folder was converted from (its `conversion.json`), checked by sha256."""
    marker = read_marker(Path(base_dir))
    if marker is None:
        raise StudentExportError(f"{base_dir} has no conversion.json: a GGUF export copies the tokenizer and "
                                 "hyper-parameters from the GGUF the base was converted from (`distill models "
                                 "convert`), and this base was not made that way")
    source = Path(marker["source"])
    if not source.is_file():
        raise StudentExportError(f"{base_dir} was converted from {source}, which is gone: restore it (`distill models "
                                 "setup` for the default models)")
    if file_sha256(source) != marker["source_sha256"]:
        raise StudentExportError(f"{source} changed since {base_dir} was converted from it (sha256 differs): convert "
                                 "the base again")
    return source


def gguf_tensors(weights: dict[str, np.ndarray], config: dict[str, Any], architecture: str,
                 dtype: str) -> dict[str, np.ndarray]:
    """The fused weights under their GGUF names, in llama.cpp's layout and the chosen float type."""
    if architecture not in GGUF_ARCHITECTURES:
        raise StudentExportError(f"architecture {architecture!r} cannot be written as GGUF "
                                 f"(supported: {', '.join(GGUF_ARCHITECTURES)})")
    if dtype not in DTYPES:
        raise StudentExportError(f"dtype {dtype!r}: one of {', '.join(DTYPES)}")
    out: dict[str, np.ndarray] = {}
    for name, value in weights.items():
        try:
            target = gguf_tensor_name(name)
        except KeyError:
            raise StudentExportError(f"tensor {name!r} has no {architecture} GGUF name") from None
        value = np.asarray(value, dtype=np.float32)
        if architecture == "llama" and name.endswith(("self_attn.q_proj.weight", "self_attn.k_proj.weight")):
            heads = config["num_attention_heads"] if ".q_proj." in name else config["num_key_value_heads"]
            value = permute_rotary(value, int(heads))
        if dtype == "f16" and value.ndim > 1:
            value = value.astype(np.float16)
        out[target] = np.ascontiguousarray(value)
    return out


def write_gguf(weights: dict[str, np.ndarray], config: dict[str, Any], source: Path, out_path: Path, *,
               dtype: str = "f16", metadata: dict[str, str] | None = None, overwrite: bool = False) -> Path:
    """Write `weights` (Hugging Face names) as a GGUF with the metadata of `source`; `metadata` adds string keys."""
    import gguf

    out_path = Path(out_path).expanduser()
    check_target(out_path, overwrite)
    reader = gguf.GGUFReader(str(source))
    architecture = str(reader.fields["general.architecture"].contents())
    tensors = gguf_tensors(weights, config, architecture, dtype)
    expected = {t.name: tuple(int(n) for n in reversed(t.shape)) for t in reader.tensors}
    if set(expected) != set(tensors):
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        raise StudentExportError(f"the fused model's tensors do not match {source}: missing {missing[:5]}, "
                                 f"extra {extra[:5]}")
    for name, shape in expected.items():
        if tensors[name].shape != shape:
            raise StudentExportError(f"tensor {name}: shape {tensors[name].shape} in the fused model, {shape} in "
                                     f"{source}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".partial", dir=out_path.parent)
    staging_path = Path(staging)
    try:
        writer = gguf.GGUFWriter(staging, architecture)
        for key, field in reader.fields.items():
            if key.startswith("GGUF.") or key in _NOT_COPIED or key in (metadata or {}):
                continue
            sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), field.types[0], sub_type=sub_type)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)
        for key, value in (metadata or {}).items():
            writer.add_string(key, str(value))
        for tensor in reader.tensors:  # the source's order
            writer.add_tensor(tensor.name, tensors[tensor.name])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        staging_path.chmod(0o644)
        replace_path(staging_path, out_path)
    except BaseException:
        staging_path.unlink(missing_ok=True)
        raise
    finally:
        os.close(handle)
    return out_path
