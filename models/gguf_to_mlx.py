"""Convert a GGUF file into a float32 Hugging Face-style directory that `mlx_lm.load` accepts (no torch).

Every tensor is read and dequantised with the `gguf` package, renamed to its Hugging Face name, and (llama
only) its rotary rows are put back in the order llama.cpp's converter permuted them out of. `config.json`
comes from the GGUF keys; the tokenizer and chat template from the GGUF metadata, through transformers'
torch-free builders. The result is written to a temporary directory beside OUT_DIR and renamed into place
only when complete, with a `conversion.json` recording the source file's sha256.

    report = convert_gguf("student.gguf", "student-mlx")
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from distill.models.staging import staged_folder

CONVERTER_VERSION = 1
MARKER = "conversion.json"
SHARD_BYTES = 4 << 30

_LAYER_TENSORS = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
# Gemma 3 has four norms per block and per-head q/k norms; its `ffn_norm` is the pre-feed-forward norm.
_GEMMA3_LAYER_TENSORS = {
    **_LAYER_TENSORS,
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
}
_GLOBAL_TENSORS = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
_LAYER_NAME = re.compile(r"^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$")
_GLOBAL_NAME = re.compile(r"^([a-z_]+)\.(weight|bias)$")

SUPPORTED_ARCHITECTURES = ("llama", "qwen2", "gemma3")
# llama.cpp pre-tokenizer names that mean GPT-2's own split (transformers' builders default to it).
_KNOWN_DEFAULT_PRE_TOKENIZERS = ("default", "gpt-2", "gpt2")


class ConversionError(ValueError):
    """A GGUF file that cannot be converted; the message names the file and what is wrong."""


@dataclass
class ConversionReport:
    source: str
    source_sha256: str
    out_dir: str
    architecture: str
    tensors: int
    parameters: int
    tied_embeddings: bool
    converter_version: int = CONVERTER_VERSION
    warnings: list[str] = field(default_factory=list)


def hf_tensor_name(gguf_name: str, architecture: str) -> str:
    """The Hugging Face name of a GGUF tensor: `blk.3.attn_q.weight` -> `model.layers.3.self_attn.q_proj.weight`."""
    layer = _LAYER_NAME.match(gguf_name)
    if layer:
        index, part, kind = layer.groups()
        table = _GEMMA3_LAYER_TENSORS if architecture == "gemma3" else _LAYER_TENSORS
        if part in table:
            return f"model.layers.{index}.{table[part]}.{kind}"
    top = _GLOBAL_NAME.match(gguf_name)
    if top and top.group(1) in _GLOBAL_TENSORS:
        return f"{_GLOBAL_TENSORS[top.group(1)]}.{top.group(2)}"
    raise KeyError(gguf_name)


def unpermute_rotary(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (its converter interleaves the two rotary halves of each head)."""
    rows = weight.shape[0]
    if rows % (2 * n_heads):
        raise ValueError(f"{rows} rows cannot be split into {n_heads} heads of rotary pairs")
    return weight.reshape(n_heads, rows // n_heads // 2, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def permute_rotary(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's permutation (as in its `convert_hf_to_gguf.py`); the inverse of `unpermute_rotary`."""
    rows = weight.shape[0]
    return weight.reshape(n_heads, 2, rows // n_heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _open_reader(path: Path):
    import gguf

    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ConversionError(f"{path}: not a GGUF file (it does not start with the GGUF magic bytes)")
    try:
        return gguf.GGUFReader(path)
    except Exception as exc:  # the reader raises bare ValueError/IndexError on truncated or corrupt files
        raise ConversionError(f"{path}: unreadable GGUF ({type(exc).__name__}: {exc})") from exc


def _metadata(reader) -> dict[str, Any]:
    skip = ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")
    return {key: value.contents() for key, value in reader.fields.items() if key not in skip}


def build_config(meta: dict[str, Any], architecture: str, vocab_size: int, tied: bool, path: Path) -> dict[str, Any]:
    """`config.json` for mlx-lm from the GGUF keys (`{arch}.block_count`, ...)."""

    def key(name: str, default: Any = KeyError) -> Any:
        value = meta.get(f"{architecture}.{name}", default)
        if value is KeyError:
            raise ConversionError(f"{path}: GGUF key {architecture}.{name} is missing")
        return value

    heads = int(key("attention.head_count"))
    hidden = int(key("embedding_length"))
    if meta.get(f"{architecture}.rope.scaling.type") not in (None, "none"):
        raise ConversionError(f"{path}: rope scaling {meta[f'{architecture}.rope.scaling.type']!r} is not supported")
    config: dict[str, Any] = {
        "architectures": [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                           "gemma3": "Gemma3ForCausalLM"}[architecture]],
        "model_type": "gemma3_text" if architecture == "gemma3" else architecture,
        "hidden_size": hidden,
        "num_hidden_layers": int(key("block_count")),
        "intermediate_size": int(key("feed_forward_length")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(key("attention.head_count_kv", heads)),
        "head_dim": int(key("attention.key_length", key("rope.dimension_count", hidden // heads))),
        "rms_norm_eps": float(key("attention.layer_norm_rms_epsilon")),
        "rope_theta": float(key("rope.freq_base", 10000.0)),
        "max_position_embeddings": int(key("context_length")),
        "vocab_size": vocab_size,
        "tie_word_embeddings": tied,
        "torch_dtype": "float32",
    }
    for name, token_key in (("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id")):
        if f"tokenizer.ggml.{token_key}" in meta:
            config[name] = int(meta[f"tokenizer.ggml.{token_key}"])
    if architecture == "gemma3":
        config.update(
            sliding_window=int(key("attention.sliding_window", 512)),
            query_pre_attn_scalar=config["head_dim"],
            rope_local_base_freq=10_000.0,
            sliding_window_pattern=6,
        )
    return config


def _dequantised(tensor) -> np.ndarray:
    import gguf

    values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    return np.ascontiguousarray(values, dtype=np.float32).reshape(tuple(int(n) for n in reversed(tensor.shape)))


def read_weights(reader, architecture: str, config: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    """Every tensor as float32 under its Hugging Face name."""
    weights: dict[str, np.ndarray] = {}
    for tensor in reader.tensors:
        if tensor.name == "rope_freqs.weight":
            raise ConversionError(f"{path}: tensor rope_freqs.weight (scaled rotary frequencies) is not supported")
        try:
            name = hf_tensor_name(tensor.name, architecture)
        except KeyError:
            raise ConversionError(f"{path}: tensor {tensor.name!r} has no known {architecture} name") from None
        try:
            value = _dequantised(tensor)
        except NotImplementedError as exc:
            raise ConversionError(f"{path}: tensor {tensor.name}: {tensor.tensor_type.name} cannot be "
                                  f"dequantised by gguf ({exc})") from exc
        if architecture == "llama" and name.endswith(("self_attn.q_proj.weight", "self_attn.k_proj.weight")):
            heads = config["num_attention_heads"] if ".q_proj." in name else config["num_key_value_heads"]
            value = unpermute_rotary(value, heads)
        if architecture == "gemma3" and name.endswith("norm.weight"):
            value = value - 1.0  # llama.cpp stores Gemma's (1 + w) norm scale; HF and mlx-lm store w
        weights[name] = value
    return weights


def tokenizer_metadata(reader, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(tokenizer_dict, tokenizer_config)` as transformers' `get_gguf_tokenizer` builds them (its own GGUF
    reader needs torch, so we read the same keys with the `gguf` package)."""
    from transformers.integrations.gguf import GGUF_TOKENIZER_MAPPING

    def value(key: str) -> Any:
        return reader.fields[key].contents() if key in reader.fields else None

    if value("tokenizer.ggml.tokens") is None:
        raise ConversionError(f"{path}: no tokenizer in the GGUF metadata (tokenizer.ggml.tokens is missing)")
    grouped = {
        group: {name: value(f"tokenizer.{key}") for key, name in renames.items() if f"tokenizer.{key}" in reader.fields}
        for group, renames in GGUF_TOKENIZER_MAPPING.items()
    }
    tokenizer, config = grouped["tokenizer"], grouped["tokenizer_config"]
    if tokenizer.get("tokenizer_type") == "llama":
        config.setdefault("add_bos_token", True)  # llama.cpp adds BOS to a sentencepiece vocab unless told not to
    for name, key in (("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"), ("unk_token", "unknown_token_id"),
                      ("pad_token", "padding_token_id")):
        token_id = value(f"tokenizer.ggml.{key}")
        config[name] = tokenizer["tokens"][token_id] if token_id is not None else None
    return tokenizer, config


def build_tokenizer(reader, path: Path):
    """A transformers fast tokenizer with the chat template, built from the GGUF metadata alone."""
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")  # not "PyTorch was not found": torch is not needed
    from tokenizers import pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.integrations.gguf import convert_gguf_tokenizer
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

    warnings: list[str] = []
    tokenizer_dict, tokenizer_config = tokenizer_metadata(reader, path)
    try:
        backend, extra = convert_gguf_tokenizer(str(reader.fields["general.architecture"].contents()), tokenizer_dict)
    except ValueError as exc:
        raise ConversionError(f"{path}: {exc}") from exc
    pre = tokenizer_dict.get("pre_tokenizer_type")
    if pre == "smollm":  # llama.cpp: every digit alone, then GPT-2's split
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True),
             pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)]
        )
    elif (tokenizer_dict.get("tokenizer_type") == "gpt2" and pre not in GGUF_PRE_TOKENIZER_SPLITS
          and pre not in _KNOWN_DEFAULT_PRE_TOKENIZERS):
        warnings.append(f"pre-tokenizer {pre!r} is unknown: text is split like GPT-2, which may differ from llama.cpp")
    if "chat_template" not in tokenizer_config:
        warnings.append("the GGUF has no chat template (a base model): apply_chat_template will fail")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **tokenizer_config, **extra)
    return tokenizer, warnings


def _save_weights(weights: dict[str, np.ndarray], out_dir: Path) -> None:
    from safetensors.numpy import save_file

    shards: list[dict[str, np.ndarray]] = [{}]
    size = 0
    for name, value in weights.items():
        if size and size + value.nbytes > SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][name] = value
        size += value.nbytes
    if len(shards) == 1:
        save_file(shards[0], str(out_dir / "model.safetensors"), metadata={"format": "mlx"})
        return
    weight_map = {}
    for index, shard in enumerate(shards, start=1):
        filename = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(out_dir / filename), metadata={"format": "mlx"})
        weight_map.update(dict.fromkeys(shard, filename))
    total = sum(value.nbytes for value in weights.values())
    index_file = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out_dir / "model.safetensors.index.json").write_text(json.dumps(index_file, indent=2))


def read_marker(out_dir: Path) -> dict[str, Any] | None:
    """The `conversion.json` of a finished conversion, or None."""
    try:
        return json.loads((Path(out_dir) / MARKER).read_text())
    except (OSError, ValueError):
        return None


def convert_gguf(gguf_path: Path | str, out_dir: Path | str, *, overwrite: bool = False) -> ConversionReport:
    """Convert one GGUF file into a float32 MLX/HF directory; raises ConversionError on bad input."""
    path, out_dir = Path(gguf_path).expanduser(), Path(out_dir).expanduser()
    if out_dir.exists() and not overwrite:
        raise ConversionError(f"{out_dir} already exists (pass overwrite=True / --overwrite to replace it)")
    reader = _open_reader(path)
    meta = _metadata(reader)
    architecture = str(meta.get("general.architecture", ""))
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ConversionError(f"{path}: architecture {architecture!r} is not supported "
                              f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)})")
    names = {tensor.name for tensor in reader.tensors}
    tied = "output.weight" not in names
    embedding = next((t for t in reader.tensors if t.name == "token_embd.weight"), None)
    if embedding is None:
        raise ConversionError(f"{path}: no token_embd.weight tensor")
    config = build_config(meta, architecture, int(embedding.shape[1]), tied, path)
    weights = read_weights(reader, architecture, config, path)
    tokenizer, warnings = build_tokenizer(reader, path)
    report = ConversionReport(
        source=str(path.resolve()), source_sha256=file_sha256(path), out_dir=str(out_dir.resolve()),
        architecture=architecture, tensors=len(weights), parameters=sum(int(v.size) for v in weights.values()),
        tied_embeddings=tied, warnings=warnings,
    )
    with staged_folder(out_dir) as staging:
        _save_weights(weights, staging)
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        tokenizer.save_pretrained(str(staging))
        (staging / MARKER).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report
