"""The GGUF -> MLX converter on tiny synthetic GGUF files (no download)."""

from __future__ import annotations

import importlib.util
import json
import stat

import numpy as np
import pytest
from distill.models.gguf_to_mlx import (
    ConversionError,
    convert_gguf,
    file_sha256,
    hf_tensor_name,
    permute_rotary,
    unpermute_rotary,
)
from safetensors.numpy import load_file


@pytest.mark.parametrize(("gguf_name", "architecture", "hf_name"), [
    ("token_embd.weight", "llama", "model.embed_tokens.weight"),
    ("output_norm.weight", "llama", "model.norm.weight"),
    ("output.weight", "qwen2", "lm_head.weight"),
    ("blk.0.attn_q.weight", "llama", "model.layers.0.self_attn.q_proj.weight"),
    ("blk.11.attn_k.bias", "qwen2", "model.layers.11.self_attn.k_proj.bias"),
    ("blk.3.attn_v.weight", "llama", "model.layers.3.self_attn.v_proj.weight"),
    ("blk.3.attn_output.weight", "llama", "model.layers.3.self_attn.o_proj.weight"),
    ("blk.29.ffn_gate.weight", "llama", "model.layers.29.mlp.gate_proj.weight"),
    ("blk.2.ffn_up.weight", "qwen2", "model.layers.2.mlp.up_proj.weight"),
    ("blk.2.ffn_down.weight", "qwen2", "model.layers.2.mlp.down_proj.weight"),
    ("blk.7.attn_norm.weight", "llama", "model.layers.7.input_layernorm.weight"),
    ("blk.7.ffn_norm.weight", "llama", "model.layers.7.post_attention_layernorm.weight"),
    ("blk.7.ffn_norm.weight", "gemma3", "model.layers.7.pre_feedforward_layernorm.weight"),
    ("blk.7.post_attention_norm.weight", "gemma3", "model.layers.7.post_attention_layernorm.weight"),
    ("blk.7.post_ffw_norm.weight", "gemma3", "model.layers.7.post_feedforward_layernorm.weight"),
    ("blk.0.attn_q_norm.weight", "gemma3", "model.layers.0.self_attn.q_norm.weight"),
])
def test_tensor_names(gguf_name, architecture, hf_name):
    assert hf_tensor_name(gguf_name, architecture) == hf_name


@pytest.mark.parametrize("name", ["rope_freqs.weight", "blk.0.attn_qkv.weight", "blk.x.attn_q.weight", "output"])
def test_unknown_tensor_names_are_refused(name):
    with pytest.raises(KeyError):
        hf_tensor_name(name, "llama")


def test_rotary_unpermute_restores_hf_row_order():
    # One head of 4 rows: llama.cpp stores HF rows in the order 0, 2, 1, 3 (the rotary halves interleaved).
    hf = np.arange(4 * 3, dtype=np.float32).reshape(4, 3)
    stored = permute_rotary(hf, 1)
    assert np.array_equal(stored, hf[[0, 2, 1, 3]])
    assert np.array_equal(unpermute_rotary(stored, 1), hf)


@pytest.mark.parametrize(("rows", "heads"), [(576, 9), (192, 3), (64, 4), (8, 2)])
def test_rotary_round_trip_per_head(rows, heads):
    weight = np.random.default_rng(rows).standard_normal((rows, 5)).astype(np.float32)
    assert np.array_equal(unpermute_rotary(permute_rotary(weight, heads), heads), weight)
    assert not np.array_equal(permute_rotary(weight, heads), weight)


def test_rotary_unpermute_refuses_rows_that_do_not_split():
    with pytest.raises(ValueError, match="cannot be split"):
        unpermute_rotary(np.zeros((6, 2), dtype=np.float32), 2)


def test_llama_weights_and_config(synthetic_gguf, tmp_path):
    model = synthetic_gguf("llama")
    report = convert_gguf(model.path, tmp_path / "out")
    out = tmp_path / "out"
    weights = load_file(str(out / "model.safetensors"))
    assert set(weights) == set(model.hf_weights)
    for name, expected in model.hf_weights.items():
        assert weights[name].dtype == np.float32
        if name in model.quantised:  # Q8_0: within one quantisation step of the block's largest value
            assert np.abs(weights[name] - expected).max() <= np.abs(expected).max() / 127 + 1e-6, name
        else:  # F32, including q/k whose rotary rows were permuted in the file and must be put back exactly
            assert np.array_equal(weights[name], expected), name
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert (config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]) == (64, 2, 128)
    assert (config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]) == (4, 2, 16)
    assert config["vocab_size"] == model.vocab_size
    assert config["tie_word_embeddings"] is False
    assert config["rope_theta"] == 10000.0
    assert report.architecture == "llama" and report.tensors == len(model.hf_weights)
    marker = json.loads((out / "conversion.json").read_text())
    assert marker["source_sha256"] == file_sha256(model.path)
    assert stat.S_IMODE((out / "model.safetensors").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_tied_embeddings_when_there_is_no_output_tensor(synthetic_gguf, tmp_path):
    model = synthetic_gguf("llama", tied=True)
    report = convert_gguf(model.path, tmp_path / "out")
    assert report.tied_embeddings
    assert json.loads((tmp_path / "out" / "config.json").read_text())["tie_word_embeddings"] is True
    assert "lm_head.weight" not in load_file(str(tmp_path / "out" / "model.safetensors"))


def test_qwen2_keeps_biases_and_row_order(synthetic_gguf, tmp_path):
    model = synthetic_gguf("qwen2")
    convert_gguf(model.path, tmp_path / "out")
    weights = load_file(str(tmp_path / "out" / "model.safetensors"))
    for name in ("model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                 "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.v_proj.bias"):
        assert np.array_equal(weights[name], model.hf_weights[name]), name
    assert json.loads((tmp_path / "out" / "config.json").read_text())["model_type"] == "qwen2"


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_mlx_lm_loads_the_directory_with_its_tokenizer_and_chat_template(synthetic_gguf, tmp_path, architecture):
    from distill.models.mlx_runtime import load_mlx, load_mlx_model

    mx = load_mlx()
    convert_gguf(synthetic_gguf(architecture).path, tmp_path / "out")
    model, tokenizer = load_mlx_model(tmp_path / "out")
    ids = tokenizer.encode("hello world", add_special_tokens=False)
    assert [tokenizer.convert_ids_to_tokens(i) for i in ids] == ["hello", "Ġwor", "l", "d"]
    assert tokenizer.decode(ids) == "hello world"
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                           tokenize=False)
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    assert prompt_ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")  # special tokens stay whole
    logits = model(mx.array([prompt_ids]))
    assert logits.shape == (1, len(prompt_ids), 266) and logits.dtype == mx.float32
    assert tokenizer.eos_token == "<|im_end|>"


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed (`distill models setup` installs it)")
@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_same_logits_as_llama_cpp_on_the_same_file(synthetic_gguf, tmp_path, architecture):
    """The converted model computes what llama.cpp computes from the GGUF (rotary order, biases, norms, GQA)."""
    from distill.models.mlx_runtime import load_mlx, load_mlx_model
    from llama_cpp import Llama

    mx = load_mlx()
    model_file = synthetic_gguf(architecture)
    convert_gguf(model_file.path, tmp_path / "out")
    model, _ = load_mlx_model(tmp_path / "out")
    llm = Llama(model_path=str(model_file.path), n_ctx=64, logits_all=True, verbose=False, n_threads=1)
    ids = [258, 40, 71, 101, 108, 108, 111, 257, 33, 20, 200, 12]
    llm.eval(ids)
    expected = np.array(llm.scores[: len(ids)])
    got = np.array(model(mx.array([ids]))[0])
    # Measured: |diff| <= 0.04 on logits of magnitude ~3 (llama.cpp keeps its KV cache in float16 and multiplies
    # Q8_0 weights with 8-bit activations); without the rotary un-permutation it is 1.6.
    assert np.abs(got - expected).max() < 0.1
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.999


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello")
    with pytest.raises(ConversionError, match=r"notes\.gguf: not a GGUF file"):
        convert_gguf(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path):
    with pytest.raises(ConversionError, match="absent.gguf: no such file"):
        convert_gguf(tmp_path / "absent.gguf", tmp_path / "out")


def test_truncated_file(synthetic_gguf, tmp_path):
    data = synthetic_gguf("llama").path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ConversionError, match=r"cut\.gguf: unreadable GGUF"):
        convert_gguf(cut, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_tensor_is_named(synthetic_gguf, tmp_path):
    model = synthetic_gguf("llama", extra_tensor="blk.0.attn_sinks.weight")
    with pytest.raises(ConversionError, match="'blk.0.attn_sinks.weight' has no known llama name"):
        convert_gguf(model.path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unsupported_architecture(tmp_path):
    import gguf

    path = tmp_path / "bert.gguf"
    writer = gguf.GGUFWriter(str(path), "bert")
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ConversionError, match="architecture 'bert' is not supported"):
        convert_gguf(path, tmp_path / "out")


def test_existing_output_needs_overwrite(synthetic_gguf, tmp_path):
    model = synthetic_gguf("llama")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        convert_gguf(model.path, out)
    assert (out / "keep.txt").read_text() == "mine"
    convert_gguf(model.path, out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", model.path.name])


def test_convert_command(cli, synthetic_gguf, tmp_path):
    model = synthetic_gguf("qwen2")
    result = cli("models", "convert", model.path, tmp_path / "cli-out")
    assert result.exit_code == 0, result.output
    assert "qwen2" in result.output and (tmp_path / "cli-out" / "model.safetensors").is_file()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00")
    result = cli("models", "convert", bad, tmp_path / "bad-out")
    assert result.exit_code == 2
    assert "bad.gguf" in result.output and "unreadable GGUF" in result.output
