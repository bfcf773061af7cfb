"""A qwen2 student exported to GGUF: the default teacher (Qwen2.5-Coder-0.5B, float32 MLX) with a random LoRA adapter
on its last blocks, fused and written as an f32 GGUF; llama.cpp's greedy answers equal MLX-with-the-adapter's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from distill.models.lora_fuse import fuse_adapter
from distill.models.mlx_runtime import load_mlx, load_mlx_model
from distill.models.mlx_to_gguf import source_gguf_for, write_gguf
from distill.models.registry import TEACHER

from tests.models.test_real_models import Pair, forced_logits, greedy_llama_cpp, greedy_mlx, prompt_ids
from tests.support.random_adapter import write_random_adapter

pytestmark = pytest.mark.real_models
PROMPTS = ["What is 12 plus 7?", "Name the capital of France.", "If a train travels 60 km in 1.5 hours, what is its "
           "speed?"]


def test_qwen2_fused_gguf_answers_as_mlx_with_the_adapter(real_models, llama_cpp, tmp_path):
    from llama_cpp import Llama

    mx = load_mlx()
    base = TEACHER.mlx_dir(real_models)
    adapter_dir = write_random_adapter(base, tmp_path / "adapter", rank=8, scale=2.0, num_layers=4, std=0.02)
    fused = fuse_adapter(base, adapter_dir)
    out = write_gguf(fused.weights, fused.config, source_gguf_for(base), tmp_path / "qwen2.gguf", dtype="f32")
    del fused
    model, tokenizer = load_mlx_model(base, adapter_dir)
    llm = Llama(model_path=str(out), n_ctx=256, logits_all=True, verbose=False, n_threads=2)
    assert llm.metadata["general.architecture"] == "qwen2"
    assert llm.metadata["tokenizer.chat_template"] == tokenizer.chat_template
    pair, results = Pair(llm, model, tokenizer), []
    for question in PROMPTS:
        ids = prompt_ids(pair, question)  # asserts llama.cpp tokenises the chat prompt as MLX does
        reference = greedy_llama_cpp(pair, ids, 16)
        expected, got = forced_logits(pair, ids + reference)
        results.append({"question": question, "text": tokenizer.decode(reference), "same": reference ==
                        greedy_mlx(pair, ids, 16), "max_diff": float(np.abs(got - expected).max())})
    base_model, _ = load_mlx_model(base)
    ids = mx.array([prompt_ids(pair, PROMPTS[0])])
    effect = float(np.abs(np.array(model(ids)) - np.array(base_model(ids))).max())
    print(json.dumps({"results": results, "adapter_effect": effect}, indent=1))
    assert all(r["same"] for r in results)
    assert max(r["max_diff"] for r in results) < 0.1 < effect  # the adapter is in the file, and computed alike
