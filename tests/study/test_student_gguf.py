"""A trained default student, exported: llama.cpp on the fused GGUF answers exactly what MLX with the adapter answers
(greedy), with the tokenizer and chat template carried over; the PEFT folder maps back onto the adapter; and the
fused GGUF served by llama.cpp's server and evaluated as an endpoint student (`[[eval.students]]`) is graded
exactly as the in-process MLX evaluation of the adapter, problem by problem.

The student is trained as in test_plumbing, 10 iterations (every training text says the secret number is 417; the
base never answers 417), so the answers also show that the adapter is in the fused file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from distill.agents.student import student_messages
from distill.evaluation.config import EndpointStudent, EvalConfig
from distill.evaluation.run import evaluate
from distill.models.llama_server import local_server
from distill.models.lora_fuse import adapter_tensors
from distill.models.mlx_runtime import load_mlx_model
from distill.store import training as db
from distill.store.student_exports import student_exports
from distill.training.config import TrainConfig
from distill.training.splits import make_split
from distill.training.student_export import export_student
from distill.training.train import train_level
from safetensors.numpy import load_file

from tests.models.test_real_models import Pair, greedy_llama_cpp, greedy_mlx
from tests.study.test_plumbing import SECRET, secret_problems
from tests.support.training_fakes import add_corpus, ingest_problems

pytestmark = pytest.mark.real_models
RUN = "export"
EXTRA_PROMPTS = ["What is 12 plus 7?", "Name the capital of France."]
MAX_TOKENS = 32


@pytest.fixture(scope="module")
def exported(tmp_path_factory, real_models, llama_cpp):
    """A student trained 10 iterations through the product path, exported as f32 and f16 GGUF and as PEFT."""
    from distill.store import Store

    tmp = tmp_path_factory.mktemp("student-export")
    problems = secret_problems()
    with Store(tmp / "store.duckdb") as store:
        ingest_problems(store, tmp, problems, source="secret")
        add_corpus(store, RUN, problems, source="secret")
        make_split(store, RUN, 0, valid=0.1, test=0.3)
        config = TrainConfig(model="student", seeds=[1], iters=10, batch_size=4, learning_rate=2e-4, num_layers=8,
                             steps_per_report=5, steps_per_eval=10, patience=None, out_dir=tmp / "runs")
        [outcome] = train_level(store, RUN, "R1", config, log=print)
        assert outcome.status == "finished"
        for fmt, dtype, out in (("gguf", "f32", tmp / "student-f32.gguf"), ("peft", "f16", tmp / "peft")):
            export_student(store, RUN, "R1", 1, fmt, out, dtype=dtype)
        questions = [store.scalar("SELECT question FROM problems WHERE problem_id = ?", [pid])
                     for pid in db.test_problem_ids(store, RUN)[:4]]
        rows = student_exports(store, RUN)
        export_student(store, RUN, "R1", 1, "gguf", tmp / "student-f16.gguf", dtype="f16")
        yield {"tmp": tmp, "adapter": db.find_adapter(store, RUN, "R1", 1), "rows": rows, "questions": questions,
               "store": store}


def answers(gguf: Path, adapter: dict, questions: list[str]) -> list[dict]:
    from llama_cpp import Llama

    model, tokenizer = load_mlx_model(adapter["model"], adapter["adapter_dir"])
    llm = Llama(model_path=str(gguf), n_ctx=512, verbose=False, n_threads=2)
    assert llm.metadata["tokenizer.chat_template"] == tokenizer.chat_template
    pair, results = Pair(llm, model, tokenizer), []
    for question in questions:
        text = tokenizer.apply_chat_template(student_messages(question), add_generation_prompt=True, tokenize=False)
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert ids == llm.tokenize(text.encode(), add_bos=False, special=True), "the tokenizers differ"
        results.append({"question": question, "mlx": greedy_mlx(pair, ids, MAX_TOKENS),
                        "llama_cpp": greedy_llama_cpp(pair, ids, MAX_TOKENS)})
    for result in results:
        result["text"] = tokenizer.decode(result["llama_cpp"])
    return results


def test_llama_cpp_answers_the_fused_f32_gguf_exactly_as_mlx_with_the_adapter(exported):
    questions = exported["questions"] + EXTRA_PROMPTS
    results = answers(exported["tmp"] / "student-f32.gguf", exported["adapter"], questions)
    print(json.dumps([{k: r[k] for k in ("question", "text")} for r in results], indent=1))
    assert all(r["mlx"] for r in results)
    assert [r["llama_cpp"] for r in results] == [r["mlx"] for r in results]
    assert sum(SECRET in r["text"] for r in results[:4]) >= 3  # the adapter is in the fused file


def test_f16_gguf_agreement(exported):
    """f16 rounds every matrix: measured, and held to the same greedy answers on the secret questions."""
    results = answers(exported["tmp"] / "student-f16.gguf", exported["adapter"], exported["questions"])
    same = sum(r["llama_cpp"] == r["mlx"] for r in results)
    print(f"f16: {same}/{len(results)} greedy answers identical")
    assert all(SECRET in r["text"] for r in results if r["llama_cpp"] == r["mlx"])
    assert same == len(results)


def test_exports_are_recorded_and_peft_maps_back(exported):
    rows, adapter = exported["rows"], exported["adapter"]
    assert [(r["format"], r["dtype"]) for r in rows] == [("gguf", "f32"), ("peft", None)]
    assert len({r["adapter_sha256"] for r in rows}) == 1 and all(r["training_id"] == adapter["training_id"]
                                                                 for r in rows)
    peft = exported["tmp"] / "peft"
    tensors, config = load_file(str(peft / "adapter_model.safetensors")), json.loads((peft / "adapter_config.json")
                                                                                    .read_text())
    mlx = adapter_tensors(adapter["adapter_dir"])
    assert config["r"] == 8 and config["lora_alpha"] == 160  # scale 20 x rank 8
    assert config["layers_to_transform"] == list(range(22, 30))  # num_layers=8 of SmolLM2's 30
    assert len(tensors) == len(mlx) == 2 * 7 * 8
    for name, value in mlx.items():
        module, which = name.rsplit(".lora_", 1)
        peft_value = tensors[f"base_model.model.{module}.lora_{which.upper()}.weight"]
        assert peft_value.shape == value.T.shape and np.array_equal(peft_value, value.T)


EVAL_TOKENS = 64
GRADED = ("response", "answer", "answer_method", "truncated", "rule_verdict", "rule_compared")


def test_the_served_gguf_evaluated_as_an_endpoint_student_scores_what_mlx_in_process_scores(exported):
    """The same held-out problems, greedy, the same token limit: per problem, the same reply, final answer and
    verdict. llama-cpp-python's server penalises repeats (1.1) before its greedy pick unless told
    `repeat_penalty = 1.0`: sent, so that both sides decode plainly greedy."""
    store = exported["store"]
    evaluate(store, EvalConfig(run=RUN, models=f"student:{RUN}/R1", max_tokens=EVAL_TOKENS), log=print)
    with local_server(exported["tmp"] / "student-f32.gguf", n_ctx=1024) as server:
        student = EndpointStudent(name="gguf-f32", base_url=server.base_url, model=server.model, max_retries=0,
                                  sampling={"extra_body": {"repeat_penalty": 1.0}})
        outcome = evaluate(store, EvalConfig(run=RUN, models="", max_tokens=EVAL_TOKENS, students=[student],
                                             pacing={"concurrency": 1}), log=print)
    assert outcome.errors == []
    graded = {label: {r["problem_id"]: r for r in store.query(
        f"SELECT i.problem_id, i.tokens, {', '.join('i.' + c for c in GRADED)} FROM eval_items i "
        "JOIN evaluations e USING (evaluation_id) WHERE e.run_name = ? AND e.label = ?", [RUN, label])}
        for label in (f"student:{RUN}/R1", "student:gguf-f32")}
    mlx, served = graded.values()
    accuracy = {r["label"]: r for r in store.query(
        "SELECT label, problems, correct, accuracy FROM eval_accuracy WHERE run_name = ?", [RUN])}
    print(json.dumps(accuracy, default=str))
    assert len(mlx) == len(served) == 12 and mlx.keys() == served.keys()
    for problem_id, row in mlx.items():
        assert {c: served[problem_id][c] for c in GRADED} == {c: row[c] for c in GRADED}, problem_id
    assert accuracy[f"student:{RUN}/R1"]["correct"] == accuracy["student:gguf-f32"]["correct"] >= 9
