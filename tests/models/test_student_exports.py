"""Fused and PEFT exports on tiny synthetic llama and qwen2 models (no download): the fused weights are the LoRA
formula, the GGUF holds them in llama.cpp's layout with the source's metadata, llama.cpp computes what MLX with
the adapter computes, and the PEFT tensors are the MLX adapter transposed."""

from __future__ import annotations

import importlib.util
import json

import gguf
import numpy as np
import pytest
from distill.models.gguf_to_mlx import convert_gguf, permute_rotary
from distill.models.lora_fuse import StudentExportError, adapter_tensors, fuse_adapter, write_mlx_folder
from distill.models.mlx_to_gguf import gguf_tensor_name, source_gguf_for, write_gguf
from distill.models.peft_adapter import from_peft, read_peft_folder, to_peft, write_peft_folder
from safetensors.numpy import load_file

from tests.models.conftest import CHATML, HEADS, KV_HEADS, LAYERS
from tests.support.random_adapter import write_random_adapter

needs_llama_cpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                     reason="llama-cpp-python is not installed (`distill models setup` installs it)")


@pytest.fixture
def adapted(synthetic_gguf, tmp_path):
    """`make(architecture, **adapter_options) -> (source_gguf, base_dir, adapter_dir)`."""

    def make(architecture: str = "llama", **options):
        source = synthetic_gguf(architecture).path
        base = tmp_path / f"{source.stem}-mlx"
        convert_gguf(source, base)
        adapter = write_random_adapter(base, tmp_path / f"{source.stem}-adapter", **options)
        return source, base, adapter

    return make


def lora_delta(adapter: dict[str, np.ndarray], module: str, scale: float) -> np.ndarray:
    return scale * adapter[f"{module}.lora_b"].T @ adapter[f"{module}.lora_a"].T


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_fused_weights_are_base_plus_scaled_lora(adapted, architecture):
    _, base, adapter_dir = adapted(architecture, rank=4, scale=2.5)
    fused = fuse_adapter(base, adapter_dir)
    adapter = adapter_tensors(adapter_dir)
    base_weights = load_file(str(base / "model.safetensors"))
    modules = {name.rsplit(".", 1)[0] for name in adapter}
    assert len(modules) == 7 * LAYERS and fused.fused_modules == sorted(modules)  # every linear of every block
    for name, value in fused.weights.items():
        module = name.removesuffix(".weight")
        expected = base_weights[name] + (lora_delta(adapter, module, 2.5) if module in modules else 0)
        np.testing.assert_allclose(value, expected, atol=1e-6, err_msg=name)
    assert set(fused.weights) == set(base_weights)


def test_mlx_folder_loads_and_computes_what_the_adapter_computes(adapted, tmp_path):
    from distill.models.mlx_runtime import load_mlx, load_mlx_model

    mx = load_mlx()
    _, base, adapter_dir = adapted("qwen2", num_layers=1)
    out = write_mlx_folder(fuse_adapter(base, adapter_dir), tmp_path / "fused", {"adapter_sha256": "x"})
    assert json.loads((out / "export.json").read_text()) == {"adapter_sha256": "x"}
    assert not (out / "conversion.json").exists()  # the fused folder is not the converted base
    ids = mx.array([[258, 40, 71, 101, 108, 108, 111, 257, 33]])
    fused_model, tokenizer = load_mlx_model(out)
    adapter_model, _ = load_mlx_model(base, adapter_dir)
    base_model, _ = load_mlx_model(base)
    got, want, before = (np.array(m(ids)) for m in (fused_model, adapter_model, base_model))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(got - before).max() > 1e-2  # the adapter matters
    assert tokenizer.chat_template == CHATML
    with pytest.raises(StudentExportError, match="already exists"):
        write_mlx_folder(fuse_adapter(base, adapter_dir), out, {})


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_gguf_holds_the_fused_weights_in_llama_cpp_layout_with_the_source_metadata(adapted, tmp_path, architecture):
    source, base, adapter_dir = adapted(architecture)
    fused = fuse_adapter(base, adapter_dir)
    assert source_gguf_for(base) == source
    out = write_gguf(fused.weights, fused.config, source, tmp_path / "fused.gguf", dtype="f32",
                     metadata={"distill.export.run_name": "r"})
    reader, original = gguf.GGUFReader(str(out)), gguf.GGUFReader(str(source))
    assert reader.fields["general.file_type"].contents() == gguf.LlamaFileType.ALL_F32
    assert reader.fields["distill.export.run_name"].contents() == "r"
    for key in ("tokenizer.chat_template", "tokenizer.ggml.tokens", "tokenizer.ggml.merges",
                "tokenizer.ggml.eos_token_id", f"{architecture}.attention.head_count_kv", "general.architecture"):
        assert reader.fields[key].contents() == original.fields[key].contents(), key
    assert [t.name for t in reader.tensors] == [t.name for t in original.tensors]
    for name, value in fused.weights.items():
        [tensor] = [t for t in reader.tensors if t.name == gguf_tensor_name(name)]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
        stored = np.array(tensor.data).reshape(value.shape)
        if architecture == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
            value = permute_rotary(value, HEADS if "q_proj" in name else KV_HEADS)
        assert np.array_equal(stored, value), name


def test_f16_gguf_keeps_vectors_in_f32(adapted, tmp_path):
    source, base, adapter_dir = adapted("qwen2")
    fused = fuse_adapter(base, adapter_dir)
    out = write_gguf(fused.weights, fused.config, source, tmp_path / "f16.gguf", dtype="f16")
    reader = gguf.GGUFReader(str(out))
    assert reader.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_F16
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.F16
    assert types["blk.0.attn_q.bias"] == types["output_norm.weight"] == gguf.GGMLQuantizationType.F32
    q = next(t for t in reader.tensors if t.name == "blk.1.ffn_up.weight")
    np.testing.assert_allclose(np.array(q.data, dtype=np.float32).reshape(q.data.shape),
                               fused.weights["model.layers.1.mlp.up_proj.weight"], atol=2e-3)


@needs_llama_cpp
@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_llama_cpp_on_the_fused_gguf_computes_what_mlx_with_the_adapter_computes(adapted, tmp_path, architecture):
    from distill.models.mlx_runtime import load_mlx, load_mlx_model
    from llama_cpp import Llama

    mx = load_mlx()
    source, base, adapter_dir = adapted(architecture, scale=8.0)
    fused = fuse_adapter(base, adapter_dir)
    out = write_gguf(fused.weights, fused.config, source, tmp_path / "fused.gguf", dtype="f32")
    ids = [258, 40, 71, 101, 108, 108, 111, 257, 33, 20, 200, 12]
    llm = Llama(model_path=str(out), n_ctx=64, logits_all=True, verbose=False, n_threads=1)
    llm.eval(ids)
    expected = np.array(llm.scores[: len(ids)])
    model, _ = load_mlx_model(base, adapter_dir)
    base_model, _ = load_mlx_model(base)
    got, before = np.array(model(mx.array([ids]))[0]), np.array(base_model(mx.array([ids]))[0])
    # measured: |diff| <= 0.002 (llama.cpp keeps its KV cache in float16); the adapter moves logits by ~3
    assert np.abs(got - expected).max() < 0.01 and np.abs(got - before).max() > 1.0
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_gguf_export_refuses_a_base_without_a_source_gguf(adapted, tmp_path):
    _, base, _ = adapted("llama")
    (base / "conversion.json").unlink()
    with pytest.raises(StudentExportError, match="no conversion.json"):
        source_gguf_for(base)


def test_gguf_export_refuses_a_changed_source(adapted):
    source, base, _ = adapted("llama")
    source.write_bytes(source.read_bytes() + b"\0")
    with pytest.raises(StudentExportError, match="changed since"):
        source_gguf_for(base)


# -- PEFT ------------------------------------------------------------------------------------------------------
def test_peft_tensors_are_the_mlx_adapter_transposed(adapted, tmp_path):
    _, base, adapter_dir = adapted("llama", rank=4, scale=2.5, num_layers=1, keys=["self_attn.q_proj",
                                                                                   "mlp.down_proj"])
    adapter = write_peft_folder(adapter_dir, tmp_path / "peft", base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
                                num_hidden_layers=LAYERS)
    tensors = load_file(str(tmp_path / "peft" / "adapter_model.safetensors"))
    config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    mlx = adapter_tensors(adapter_dir)
    last = LAYERS - 1  # num_layers=1 adapts the last block only
    assert sorted(tensors) == sorted(f"base_model.model.model.layers.{last}.{m}.lora_{ab}.weight"
                                     for m in ("self_attn.q_proj", "mlp.down_proj") for ab in "AB")
    for module, (n_in, n_out) in {"self_attn.q_proj": (64, 64), "mlp.down_proj": (128, 64)}.items():
        a = tensors[f"base_model.model.model.layers.{last}.{module}.lora_A.weight"]
        b = tensors[f"base_model.model.model.layers.{last}.{module}.lora_B.weight"]
        assert a.shape == (4, n_in) and b.shape == (n_out, 4)  # PEFT: A (r, in), B (out, r)
        assert np.array_equal(a, mlx[f"model.layers.{last}.{module}.lora_a"].T)
        assert np.array_equal(b, mlx[f"model.layers.{last}.{module}.lora_b"].T)
        # the same update: PEFT's (alpha / r) * B @ A is MLX's scale * lora_b.T @ lora_a.T
        np.testing.assert_allclose(config["lora_alpha"] / config["r"] * b @ a,
                                   lora_delta(mlx, f"model.layers.{last}.{module}", 2.5), rtol=1e-6)
    assert config["lora_alpha"] == 10 and config["r"] == 4 and config["peft_type"] == "LORA"
    assert config["target_modules"] == ["down_proj", "q_proj"] and config["layers_to_transform"] == [last]
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert adapter.config == config
    back, parameters = from_peft(read_peft_folder(tmp_path / "peft"))
    assert parameters == {"rank": 4, "scale": 2.5, "dropout": 0.0}
    assert back.keys() == mlx.keys() and all(np.array_equal(back[k], mlx[k]) for k in mlx)


def test_peft_config_of_an_adapter_on_every_layer(adapted, tmp_path):
    _, _, adapter_dir = adapted("qwen2", rank=4, scale=20.0)
    adapter = write_peft_folder(adapter_dir, tmp_path / "peft", base_model="b", num_hidden_layers=LAYERS)
    assert adapter.config["layers_to_transform"] is None and adapter.config["lora_alpha"] == 80
    assert adapter.config["target_modules"] == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj",
                                                "v_proj"]


needs_peft = pytest.mark.skipif(
    importlib.util.find_spec("peft") is None or importlib.util.find_spec("torch") is None,
    reason="peft and torch are not installed (the numpy checks above cover the mapping; "
           "DISTILL_TEST_PEFT=1 ./scripts/test.sh installs them)")


@needs_peft
@pytest.mark.parametrize(("architecture", "options"), [
    ("llama", {}), ("qwen2", {}), ("llama", {"num_layers": 1, "keys": ["self_attn.q_proj", "mlp.down_proj"]})],
    ids=["llama", "qwen2", "llama-last-layer-two-modules"])
def test_transformers_with_the_peft_folder_computes_what_mlx_with_the_adapter_computes(adapted, tmp_path,
                                                                                       architecture, options):
    """The PEFT export loaded by the real `peft` on the base in transformers (as vLLM's LoRA modules load it): the
    same logits as MLX with the adapter, and not the base's."""
    import torch
    from distill.models.mlx_runtime import load_mlx, load_mlx_model
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    mx = load_mlx()
    _, base, adapter_dir = adapted(architecture, rank=4, scale=8.0, **options)
    write_peft_folder(adapter_dir, tmp_path / "peft", base_model=str(base), num_hidden_layers=LAYERS)
    ids = [258, 40, 71, 101, 108, 108, 111, 257, 33, 20, 200, 12]
    hf = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(hf, str(tmp_path / "peft")).eval()
    with torch.no_grad():
        got = peft_model(torch.tensor([ids])).logits[0].numpy()
    model, _ = load_mlx_model(base, adapter_dir)
    base_model, _ = load_mlx_model(base)
    want, before = np.array(model(mx.array([ids]))[0]), np.array(base_model(mx.array([ids]))[0])
    assert np.abs(want - before).max() > 0.1  # the adapter matters
    np.testing.assert_allclose(got, want, atol=1e-4)  # measured: |diff| <= 2.3e-6; the adapter moves 0.86-3.7


@needs_peft
def test_peft_loads_the_folder(adapted, tmp_path):
    from peft import LoraConfig, load_peft_weights

    _, _, adapter_dir = adapted("llama")
    write_peft_folder(adapter_dir, tmp_path / "peft", base_model="b", num_hidden_layers=LAYERS)
    config = LoraConfig.from_pretrained(str(tmp_path / "peft"))
    weights = load_peft_weights(str(tmp_path / "peft"), device="cpu")
    assert config.r == 4 and len(weights) == 2 * 7 * LAYERS


@pytest.mark.parametrize(("tensors", "message"), [
    ({"model.layers.0.self_attn.q_proj.lora_a": np.zeros((8, 3), np.float32)}, "does not fit rank 4"),
    ({"model.layers.0.self_attn.q_proj.lora_a": np.zeros((8, 4), np.float32)}, "lacks lora_a or lora_b"),
    ({"lm_head.lora_a": np.zeros((8, 4), np.float32)}, "is not model.layers.N"),
])
def test_malformed_adapters_are_refused(tensors, message):
    with pytest.raises(StudentExportError, match=message):
        to_peft(tensors, {"rank": 4, "scale": 1.0}, base_model="b")
