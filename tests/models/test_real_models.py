"""The real default models: setup, the MLX conversion against llama.cpp on the same weights, the local server.

llama.cpp multiplies quantised weights with 8-bit quantised activations, while the MLX directory holds the
same weights dequantised to float32; so on the Q4_1/Q5_0 files the logits differ by up to ~1.4 (measured)
and greedy paths may part where two tokens are nearly tied. On a float32 copy of the student's GGUF the two
agree to ~0.03 and the greedy continuations are identical: that is the exact check of the converter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from distill.models.install import verify_gguf
from distill.models.registry import GEMMA3_270M, STUDENT, TEACHER

pytestmark = pytest.mark.real_models

PROMPTS = [
    "What is 12 plus 7?",
    "Name the capital of France.",
    "Write a Python function that adds two numbers.",
    "If a train travels 60 km in 1.5 hours, what is its speed?",
]
TOKENIZER_TEXTS = [
    "What is 12 plus 7? 3.14159 and 1,000,000 -- 2024/11/22",
    "  two leading spaces, a tab\tand\nnew lines\n\n",
    "x² + y² = 1234567; naïve café, Ünïcödé, 日本語, emoji 🙂",
    "def f(a, b):\n    return a+b  # sum\n",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "\\boxed{\\frac{1}{3}} and $\\sqrt{2}$",
]


@dataclass
class Pair:
    """One model twice: llama.cpp on a GGUF file and mlx-lm on the converted directory."""

    llm: object
    model: object
    tokenizer: object


def load_pair(gguf: Path, mlx_dir: Path) -> Pair:
    from distill.models.mlx_runtime import load_mlx_model
    from llama_cpp import Llama

    model, tokenizer = load_mlx_model(mlx_dir)
    # logits_all keeps n_ctx x vocabulary floats (Gemma: 262k): a small context keeps that small.
    llm = Llama(model_path=str(gguf), n_ctx=128, logits_all=True, verbose=False, n_threads=2)
    return Pair(llm, model, tokenizer)


def prompt_ids(pair: Pair, question: str) -> list[int]:
    if pair.tokenizer.chat_template is None:  # a base model: plain text after BOS
        ids = pair.tokenizer.encode(question)
        assert ids == pair.llm.tokenize(question.encode(), add_bos=True, special=True)
        return ids
    text = pair.tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                              tokenize=False)
    ids = pair.tokenizer.encode(text, add_special_tokens=False)
    assert ids == pair.llm.tokenize(text.encode(), add_bos=False, special=True)
    return ids


def greedy_llama_cpp(pair: Pair, ids: list[int], max_tokens: int) -> list[int]:
    pair.llm.reset()
    out: list[int] = []
    for token in pair.llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0):
        if token == pair.llm.token_eos() or len(out) == max_tokens:
            break
        out.append(token)
    return out


def greedy_mlx(pair: Pair, ids: list[int], max_tokens: int) -> list[int]:
    from distill.models.mlx_runtime import load_mlx
    from mlx_lm.generate import generate_step
    from mlx_lm.sample_utils import make_sampler

    mx = load_mlx()
    out: list[int] = []
    for token, _ in generate_step(mx.array(ids), pair.model, max_tokens=max_tokens, sampler=make_sampler(temp=0.0)):
        if int(token) in pair.tokenizer.eos_token_ids:
            break
        out.append(int(token))
    return out


def forced_logits(pair: Pair, sequence: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Logits at every position of `sequence` from llama.cpp and from MLX."""
    from distill.models.mlx_runtime import load_mlx

    mx = load_mlx()
    pair.llm.reset()
    pair.llm.eval(sequence)
    expected = np.array(pair.llm.scores[: len(sequence)])
    got = np.array(pair.model(mx.array([sequence]))[0].astype(mx.float32))
    return expected, got


def compare(pair: Pair, question: str, max_tokens: int = 16) -> dict:
    """llama.cpp's greedy continuation, MLX's, and how MLX scores llama.cpp's path position by position."""
    ids = prompt_ids(pair, question)
    reference = greedy_llama_cpp(pair, ids, max_tokens)
    expected, got = forced_logits(pair, ids + reference)
    rows = range(len(ids) - 1, len(ids) + len(reference) - 1)
    diff = got - expected
    diff -= diff.mean(axis=1, keepdims=True)  # a constant shift of a row's logits changes nothing
    return {
        "reference": reference,
        "mlx": greedy_mlx(pair, ids, max_tokens),
        "max_diff": float(np.abs(diff[len(ids) - 1:]).max()),
        # how far below MLX's best token llama.cpp's choice is; 0 where they agree
        "worst_gap": max((float(got[r].max() - got[r, (ids + reference)[r + 1]]) for r in rows), default=0.0),
        "correlation": float(np.corrcoef(got[len(ids) - 1:].ravel(), expected[len(ids) - 1:].ravel())[0, 1]),
    }


@pytest.fixture(scope="module")
def student_pair(real_models, llama_cpp) -> Pair:
    return load_pair(STUDENT.gguf_path(real_models), STUDENT.mlx_dir(real_models))


@pytest.fixture(scope="module")
def student_f32_pair(real_models, llama_cpp, f32_copy) -> Pair:
    return load_pair(f32_copy(STUDENT.gguf_path(real_models)), STUDENT.mlx_dir(real_models))


@pytest.fixture(scope="module")
def teacher_pair(real_models, llama_cpp) -> Pair:
    return load_pair(TEACHER.gguf_path(real_models), TEACHER.mlx_dir(real_models))


def test_installed_files_are_verified(real_models):
    for spec in (TEACHER, STUDENT):
        assert verify_gguf(spec, spec.gguf_path(real_models)) is None
        assert (spec.mlx_dir(real_models) / "conversion.json").is_file()


def test_setup_again_finds_everything_in_place(cli, real_models):
    start = time.monotonic()
    result = cli("models", "setup", "--models-dir", real_models, "--no-serve")
    assert result.exit_code == 0, result.output
    assert result.output.count("present") == 4 and "installed" not in result.output
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("spec", [STUDENT, TEACHER], ids=["student", "teacher"])
def test_tokenizer_matches_llama_cpp(real_models, llama_cpp, spec):
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    vocab = Llama(model_path=str(spec.gguf_path(real_models)), vocab_only=True, verbose=False)
    tokenizer = AutoTokenizer.from_pretrained(str(spec.mlx_dir(real_models)))
    for text in TOKENIZER_TEXTS:
        assert tokenizer.encode(text, add_special_tokens=False) == vocab.tokenize(
            text.encode(), add_bos=False, special=True), text


def test_student_conversion_is_exact_against_llama_cpp_on_float32_weights(student_f32_pair):
    for question in PROMPTS:
        result = compare(student_f32_pair, question)
        assert result["mlx"] == result["reference"], (question, result)
        assert result["max_diff"] < 0.1, (question, result)


def test_student_matches_llama_cpp_on_its_q4_1_gguf(student_pair):
    agreed = 0
    for question in PROMPTS:
        result = compare(student_pair, question)
        assert result["correlation"] > 0.998, (question, result)
        assert result["max_diff"] < 2.5, (question, result)
        assert result["worst_gap"] < 0.5, (question, result)  # llama.cpp's pick is always a near-tie in MLX
        assert result["mlx"][:1] == result["reference"][:1], (question, result)
        agreed += result["mlx"] == result["reference"]
    assert agreed >= 2  # measured: 2 of 4 identical over 16 tokens, the others part at a near-tie


def test_teacher_matches_llama_cpp_on_its_gguf(teacher_pair):
    for question in PROMPTS:
        result = compare(teacher_pair, question, max_tokens=10)
        assert result["correlation"] > 0.998, (question, result)
        assert result["worst_gap"] < 0.5, (question, result)
        assert result["mlx"] == result["reference"], (question, result)  # measured: identical on all four


def test_local_teacher_server_answers_the_chat_client(real_models, llama_cpp):
    import asyncio
    import os

    import httpx
    from distill.agents.chat import ChatClient
    from distill.agents.endpoints import EndpointConfig, SamplingParams
    from distill.models.llama_server import local_server

    async def ask(endpoint: EndpointConfig):
        client = ChatClient.from_endpoint(endpoint)
        try:
            return await client.complete([{"role": "user", "content": "What is 2 + 3? Reply with the number only."}])
        finally:
            await client.aclose()

    with local_server("teacher", models_dir=real_models) as server:
        models = httpx.get(f"{server.base_url}/models", trust_env=False).json()
        assert [m["id"] for m in models["data"]] == ["teacher"]
        reply = asyncio.run(ask(EndpointConfig(base_url=server.base_url, model=server.model,
                                               sampling=SamplingParams(temperature=0, max_tokens=20))))
        pid = server.pid
    assert "5" in reply.content
    assert reply.completion_tokens > 0 and reply.finish_reason == "stop"
    assert not os.path.exists(f"/proc/{pid}")  # stopped and reaped


def test_doctor_reports_everything_in_place(cli, real_models, llama_cpp):
    from distill.models.doctor import run_doctor

    checks = {check.name: check for check in run_doctor(real_models)}
    assert [c.name for c in checks.values() if c.status == "fail"] == []
    for name in ("teacher gguf", "teacher mlx", "student gguf", "student mlx", "llama.cpp server", "mlx device"):
        assert checks[name].status == "ok", checks[name]
    assert "GFLOP/s" in checks["blas"].detail
    result = cli("doctor", "--models-dir", real_models)
    assert result.exit_code == 0, result.output


def test_gemma3_conversion_is_exact_against_llama_cpp_on_float32_weights(gemma3_model, llama_cpp, f32_copy):
    pair = load_pair(f32_copy(GEMMA3_270M.gguf_path(gemma3_model)), GEMMA3_270M.mlx_dir(gemma3_model))
    for text in ("The capital of France is", "def add(a, b):\n    return", "12 + 7 ="):
        result = compare(pair, text, max_tokens=10)
        assert result["mlx"] == result["reference"], (text, result)
        assert result["max_diff"] < 0.15, (text, result)  # measured <= 0.073 (Gemma's 262k-token vocabulary)
