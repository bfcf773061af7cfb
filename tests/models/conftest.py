"""Fixtures for the models tests.

- `synthetic_gguf`: tiny GGUF files written with `gguf.GGUFWriter` (no download): a llama or qwen2 model with
  random weights, a byte-level BPE vocabulary and a ChatML template, laid out as llama.cpp's converter writes them.
- `real_models`: the default models installed by `distill models setup`; the test is skipped, with the reason
  printed, only when they cannot be installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import pytest
from distill.models.gguf_to_mlx import permute_rotary
from transformers.convert_slow_tokenizer import bytes_to_unicode

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
HIDDEN, FFN, HEADS, KV_HEADS, LAYERS = 64, 128, 4, 2, 2
HEAD_DIM = HIDDEN // HEADS


@dataclass
class SyntheticModel:
    path: Path
    architecture: str
    hf_weights: dict[str, np.ndarray]  # what the converter must produce (before any quantisation)
    quantised: set[str]  # HF names stored as Q8_0 (lossy), the rest are F32 (exact)
    vocab_size: int


def _vocab() -> tuple[list[str], list[int], list[str]]:
    alphabet = list(bytes_to_unicode().values())
    merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"]
    tokens = alphabet + [m.replace(" ", "") for m in merges] + ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [1] * (len(tokens) - 3) + [3, 3, 3]  # 3 = CONTROL
    return tokens, types, merges


def write_synthetic_gguf(path: Path, architecture: str = "llama", *, tied: bool = False, seed: int = 0,
                         extra_tensor: str | None = None) -> SyntheticModel:
    rng = np.random.default_rng(seed)
    tokens, types, merges = _vocab()
    vocab = len(tokens)

    def weight(*shape: int, scale: float = 0.1) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    hf: dict[str, np.ndarray] = {"model.embed_tokens.weight": weight(vocab, HIDDEN),
                                 "model.norm.weight": 1 + weight(HIDDEN)}
    if not tied:
        hf["lm_head.weight"] = weight(vocab, HIDDEN)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        hf.update({
            p + "input_layernorm.weight": 1 + weight(HIDDEN), p + "post_attention_layernorm.weight": 1 + weight(HIDDEN),
            p + "self_attn.q_proj.weight": weight(HEADS * HEAD_DIM, HIDDEN),
            p + "self_attn.k_proj.weight": weight(KV_HEADS * HEAD_DIM, HIDDEN),
            p + "self_attn.v_proj.weight": weight(KV_HEADS * HEAD_DIM, HIDDEN),
            p + "self_attn.o_proj.weight": weight(HIDDEN, HEADS * HEAD_DIM),
            p + "mlp.gate_proj.weight": weight(FFN, HIDDEN), p + "mlp.up_proj.weight": weight(FFN, HIDDEN),
            p + "mlp.down_proj.weight": weight(HIDDEN, FFN),
        })
        if architecture == "qwen2":
            hf[p + "self_attn.q_proj.bias"] = weight(HEADS * HEAD_DIM)
            hf[p + "self_attn.k_proj.bias"] = weight(KV_HEADS * HEAD_DIM)
            hf[p + "self_attn.v_proj.bias"] = weight(KV_HEADS * HEAD_DIM)

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(LAYERS)
    writer.add_context_length(256)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2" if architecture == "qwen2" else "default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML)

    quantised = set()
    gguf_names = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
    layer_names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                   "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                   "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
                   "post_attention_layernorm": "ffn_norm"}
    for name, value in hf.items():
        stem, kind = name.rsplit(".", 1)
        if stem.startswith("model.layers."):
            _, _, index, module = stem.split(".", 3)
            gguf_name = f"blk.{index}.{layer_names[module]}.{kind}"
        else:
            gguf_name = f"{gguf_names[stem]}.{kind}"
        stored = value
        if architecture == "llama" and module_is_rotary(name):
            stored = permute_rotary(value, HEADS if ".q_proj." in name else KV_HEADS)
        if name.endswith("mlp.up_proj.weight") or name.endswith("mlp.down_proj.weight"):
            quantised.add(name)
            packed = gguf.quants.quantize(stored, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(gguf_name, packed, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(gguf_name, stored)
    if extra_tensor:
        writer.add_tensor(extra_tensor, weight(HIDDEN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return SyntheticModel(path, architecture, hf, quantised, vocab)


def module_is_rotary(name: str) -> bool:
    return name.endswith(("self_attn.q_proj.weight", "self_attn.k_proj.weight"))


@pytest.fixture
def synthetic_gguf(tmp_path: Path):
    """`make(architecture="llama", tied=False, extra_tensor=None) -> SyntheticModel`, written in tmp_path."""
    counter = iter(range(1000))

    def make(architecture: str = "llama", **options) -> SyntheticModel:
        return write_synthetic_gguf(tmp_path / f"tiny-{architecture}-{next(counter)}.gguf", architecture, **options)

    return make


def write_f32_copy(source: Path, target: Path) -> None:
    """The same model as `source` with every tensor dequantised to F32 (metadata copied as is)."""
    reader = gguf.GGUFReader(str(source))
    writer = gguf.GGUFWriter(str(target), reader.fields["general.architecture"].contents())
    for key, value in reader.fields.items():
        if key.startswith("GGUF.") or key in ("general.architecture", "general.file_type"):
            continue
        sub_type = value.types[-1] if value.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value.contents(), value.types[0], sub_type=sub_type)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for tensor in reader.tensors:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        writer.add_tensor(tensor.name, values.reshape(tuple(int(n) for n in reversed(tensor.shape))))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="session")
def real_models() -> Path:
    """The models directory with the default teacher and student installed, verified and converted."""
    from distill.models.gguf_to_mlx import ConversionError
    from distill.models.install import InstallError, setup_models
    from distill.models.registry import resolve_models_dir

    directory = resolve_models_dir()
    try:
        setup_models(directory, serve=False, log=lambda line: print(f"[distill models setup] {line}"))
    except (InstallError, ConversionError, OSError) as exc:
        pytest.skip(f"the default models could not be installed into {directory}: {exc}")
    return directory


@pytest.fixture(scope="session")
def llama_cpp() -> None:
    """llama-cpp-python with its server, installed by setup when missing (skipped only if that fails)."""
    from distill.models.install import InstallError, ensure_llama_cpp

    try:
        ensure_llama_cpp(log=lambda line: print(f"[distill models setup] {line}"))
    except InstallError as exc:
        pytest.skip(f"llama-cpp-python[server] could not be installed: {exc}")


@pytest.fixture(scope="session")
def f32_copy(tmp_path_factory):
    """`make(source) -> path`: a float32 copy of a GGUF (same weights as its MLX directory, no quantisation)."""

    def make(source: Path) -> Path:
        path = tmp_path_factory.mktemp("f32") / f"{source.stem}-f32.gguf"
        write_f32_copy(source, path)
        return path

    return make


@pytest.fixture(scope="session")
def gemma3_model(real_models: Path) -> Path:
    """Gemma-3-270m (installed on request only) in the models directory; skipped only if it cannot be installed."""
    from distill.models.gguf_to_mlx import ConversionError
    from distill.models.install import InstallError, setup_models

    try:
        setup_models(real_models, names=["gemma3-270m"], serve=False,
                     log=lambda line: print(f"[distill models setup --only gemma3-270m] {line}"))
    except (InstallError, ConversionError, OSError) as exc:
        pytest.skip(f"gemma3-270m could not be installed into {real_models}: {exc}")
    return real_models
