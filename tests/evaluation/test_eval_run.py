"""`evaluate` end to end on tiny real models and a real HTTP teacher: the held-out split only, base + students
(trained LoRA adapters, per seed) in-process, the teacher through the runner, truncation counted, resume without
new work, changed settings refused (or restarted), and students refused on problems they trained on."""

import json
import re

import pytest
from distill.agents.endpoints import EndpointConfig
from distill.agents.student import STUDENT_SYSTEM_PROMPT, student_messages
from distill.evaluation.config import EvalConfig, ModelChoice, parse_models
from distill.evaluation.run import evaluate, sample_order, select_problems
from distill.store import StoreError
from distill.store.ingest import ingest
from distill.store.rows_training import TrainingRunRow
from distill.store.writer import insert
from distill.training.config import TrainConfig
from distill.training.splits import make_split
from distill.training.train import train_level

from tests.evaluation.helpers import SUMS_RUN as RUN
from tests.evaluation.helpers import sums_with_split, write_scripted_model
from tests.support.openai_server import OpenAIServer, Reply, user_text
from tests.support.training_fakes import add_corpus


class Teacher:
    """Solves 'What is A plus B ?'; the first problem it is asked about (in sorted order) runs out of tokens."""

    def __init__(self, cut: str):
        self.cut, self.requests = cut, []

    def __call__(self, request):
        self.requests.append(request)
        a, b = (int(x) for x in re.search(r"What is (\d+) plus (\d+)", user_text(request)).groups())
        if f"What is {a} plus {b} ?" == self.cut:
            return Reply(content=f"{a} plus {b}: first I add the tens, then", finish_reason="length",
                         completion_tokens=request["max_tokens"])
        return Reply(content=f"{a} + {b} = {a + b}.\nAnswer: \\boxed{{{a + b}}}", completion_tokens=12)


@pytest.fixture
def sums(store, tmp_path):
    problems = sums_with_split(store, tmp_path)
    texts = [STUDENT_SYSTEM_PROMPT, "Answer : \\ boxed { }"] + [f"{p['question']} {p['reasoning']}" for p in problems]
    model = write_scripted_model(tmp_path / "scripted", texts, hidden=256)
    return store, tmp_path, problems, model


def config_for(model, server, **values):
    teacher = EndpointConfig(base_url=server.base_url, model="scripted-teacher", max_retries=0)
    return EvalConfig(**{"run": RUN, "models": "base,teacher,student", "max_tokens": 24, "base_model": str(model),
                         "teacher": teacher, **values})


def test_parse_models():
    assert parse_models("base, teacher,student:other/R3,student", "demo") == [
        ModelChoice("base"), ModelChoice("teacher"), ModelChoice("student", "other", "R3"),
        ModelChoice("student", "demo", None)]
    for bad in ("student:x/R9", "teachers", "base:x", ""):
        with pytest.raises(ValueError):
            parse_models(bad, "demo")


def test_a_limit_takes_a_seeded_prefix_that_grows():
    ids = [f"p{i}" for i in range(50)]
    order = sample_order(ids, 0)
    assert sorted(order) == sorted(ids) and order != sorted(ids) and order == sample_order(list(reversed(ids)), 0)
    assert sample_order(ids, 1) != order


def test_base_teacher_and_students_on_the_held_out_split(sums):
    store, tmp_path, problems, model = sums
    config = TrainConfig(model=str(model), seeds=[1, 2], iters=4, steps_per_report=1, steps_per_eval=2,
                         learning_rate=1e-3, patience=None, out_dir=tmp_path / "runs")
    train_level(store, RUN, "R1", config, log=lambda line: None)
    test_ids = [r["problem_id"] for r in store.query(
        "SELECT problem_id FROM splits WHERE run_name = ? AND split = 'test' ORDER BY problem_id", [RUN])]
    gold = {p["problem_id"]: p["answer"] for p in select_problems(store, EvalConfig(run=RUN))}
    assert sorted(gold) == test_ids and len(test_ids) == 4
    question = store.scalar("SELECT question FROM problems WHERE problem_id = ?", [test_ids[0]])
    teacher = Teacher(cut=question)
    with OpenAIServer(teacher) as server:
        outcome = evaluate(store, config_for(model, server), log=lambda line: None)
        assert outcome.problems == 4 and outcome.errors == []
        assert outcome.generated == {"base#0": 4, "student:sums/R1#1": 4, "student:sums/R1#2": 4, "teacher#0": 4}
        # the teacher is asked exactly what a student is asked, greedily, with the same token limit
        assert len(teacher.requests) == 4
        request = teacher.requests[0]
        assert request["messages"] == student_messages(request["messages"][1]["content"])
        assert request["temperature"] == 0 and request["max_tokens"] == 24

        rows = {(r["label"], r["seed"]): r for r in store.query("SELECT * FROM eval_accuracy")}
        assert set(rows) == {("base", 0), ("teacher", 0), ("student:sums/R1", 1), ("student:sums/R1", 2)}
        fortytwo = sum(1 for pid in test_ids if gold[pid] == "42")
        base = rows[("base", 0)]
        assert (base["problems"], base["correct"], base["incorrect"], base["truncated"]) == (
            4, fortytwo, 4 - fortytwo, 0)
        assert base["mean_words"] == 6 and base["mean_tokens"] == 6
        teach = rows[("teacher", 0)]
        assert (teach["correct"], teach["truncated"], teach["incorrect"]) == (3, 1, 0)
        cut = store.query("SELECT * FROM eval_results WHERE label = 'teacher' AND truncated")
        assert [r["problem_id"] for r in cut] == [test_ids[0]] and cut[0]["outcome"] == "truncated"
        students = store.query("SELECT * FROM evaluations WHERE kind = 'student' ORDER BY seed")
        for student in students:
            settings = json.loads(student["settings"])
            assert settings["adapter_sha256"] and student["best_iteration"] is not None
            assert student["adapter_dir"].endswith(f"seed-{student['seed']}")

        # resume: everything is stored, nothing is generated or asked again
        again = evaluate(store, config_for(model, server), log=lambda line: None)
        assert sum(again.generated.values()) == 0 and len(teacher.requests) == 4
        assert store.scalar("SELECT count(*) FROM eval_items") == 16

        # other settings are refused; --restart drops those answers and answers again
        with pytest.raises(StoreError, match="max_tokens"):
            evaluate(store, config_for(model, server, models="base", max_tokens=7), log=lambda line: None)
        restarted = evaluate(store, config_for(model, server, models="base", max_tokens=6, restart=True),
                             log=lambda line: None)
        assert restarted.generated == {"base#0": 4}
        base = store.query("SELECT * FROM eval_accuracy WHERE label = 'base'")[0]
        assert (base["truncated"], base["correct"]) == (4, 0)  # six tokens, no stop token: cut, never graded


def test_partial_runs_resume_where_they_stopped(sums):
    store, _, _, model = sums
    with OpenAIServer(Teacher(cut="")) as server:
        first = evaluate(store, config_for(model, server, models="base,teacher", limit=2), log=lambda line: None)
        assert first.generated == {"base#0": 2, "teacher#0": 2}
        second = evaluate(store, config_for(model, server, models="base,teacher", limit=3), log=lambda line: None)
        assert second.generated == {"base#0": 1, "teacher#0": 1}  # the sample of 3 contains the sample of 2
    assert store.scalar("SELECT count(*) FROM eval_items") == 6


def test_students_are_refused_on_problems_they_trained_on(sums):
    store, _, problems, model = sums
    add_corpus(store, "other", problems, source="sums")
    make_split(store, "other", 0)
    store.cursor().execute("UPDATE splits SET split = 'train' WHERE run_name = 'other' AND split = 'test'")
    insert(store.cursor(), TrainingRunRow(
        run_name="other", level="R1", split_seed=0, seed=1, export_id=1, model=str(model), adapter_dir="/nowhere",
        config={}, manifest={}, status="finished", iters=1, best_iteration=1, best_val_loss=1.0, max_seq_length=8,
        truncated_train=0, truncated_valid=0))
    with pytest.raises(StoreError, match="train/valid split of 'other'"):
        evaluate(store, EvalConfig(run=RUN, models="student:other/R1", base_model=str(model)), log=lambda line: None)
    store.cursor().execute("UPDATE splits SET split = 'test' WHERE run_name = 'other' AND split = 'train'")
    with pytest.raises(StoreError, match="adapter of other R1 seed 1 is missing"):
        evaluate(store, EvalConfig(run=RUN, models="student:other/R1", base_model=str(model)), log=lambda line: None)
    with pytest.raises(StoreError, match="no kept adapter for level R2"):
        evaluate(store, EvalConfig(run=RUN, models="student:other/R2", base_model=str(model)), log=lambda line: None)
    with pytest.raises(StoreError, match="no split set"):
        evaluate(store, EvalConfig(run="nosuch", models="base", base_model=str(model)), log=lambda line: None)


def test_math500_split_is_a_seeded_sample_of_ingested_math500(sums, tmp_path):
    store, _, _, model = sums
    path = tmp_path / "math500.jsonl"
    path.write_text("".join(json.dumps({
        "unique_id": f"test/algebra/{i}.json", "problem": f"What is {i} plus {42 - i} ?", "answer": "42",
        "subject": "Algebra" if i % 2 else "Geometry", "level": 1 + i % 5, "solution": "add"}) + "\n"
        for i in range(1, 9)))
    ingest(store, path, "math500", source="math500")
    chosen = select_problems(store, EvalConfig(run=RUN, split="math500", limit=3))
    assert len(chosen) == 3 and all(p["problem_id"].startswith("math500/") for p in chosen)
    outcome = evaluate(store, EvalConfig(run=RUN, models="base", split="math500", limit=3, base_model=str(model),
                                         max_tokens=24), log=lambda line: None)
    assert outcome.generated == {"base#0": 3}
    [row] = store.query("SELECT * FROM eval_accuracy WHERE split = 'math500'")
    assert (row["problems"], row["correct"]) == (3, 3)  # the scripted model answers 42
    subjects = store.query("SELECT * FROM eval_accuracy_by_subject")
    assert sum(r["problems"] for r in subjects) == 3
