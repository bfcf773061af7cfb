"""`[[eval.students]]`: students served behind any OpenAI-compatible endpoint, answered on the teacher's runner and
graded by the same rule. A bad entry is an error naming the key; the API key comes only from the environment
variable named (refused before any model answers when unset, and never stored); an endpoint student is a student
in the views, the paired comparisons and the report, like a trained adapter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from distill.agents.endpoints import EndpointError
from distill.agents.student import student_messages
from distill.evaluation.config import EndpointStudent, EvalConfig
from distill.evaluation.paired import comparisons
from distill.evaluation.report import build_report
from distill.evaluation.run import evaluate

from distill.config_files import ConfigError
from distill.stage_configs import load_stage
from distill.study import StudyConfigError, load_study_config
from tests.evaluation.helpers import SUMS_RUN as RUN
from tests.evaluation.helpers import sums_with_split, write_scripted_model
from tests.support.openai_server import OpenAIServer, Reply, user_text
from tests.support.paths import REPO

DEMO = REPO / "examples" / "demo.toml"
ENTRY = 'name = "served"\nbase_url = "http://127.0.0.1:8000/v1"\nmodel = "student-gguf"\n'
KEY_ENV = "DISTILL_TEST_STUDENT_KEY"


def study_with(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(DEMO.read_text() + "".join(f"\n[[eval.students]]\n{entry}" for entry in entries))
    return path


def test_students_in_a_study_file(tmp_path: Path):
    path = study_with(tmp_path, ENTRY + f'api_key_env = "{KEY_ENV}"\nsampling = {{ top_p = 0.9 }}\n'
                      'pacing = { concurrency = 4 }\n', 'name = "vllm-lora"\nbase_url = "http://gpu:8000/v1"\n'
                      'model = "demo-R1"\n')
    config = load_study_config(path).eval_config()
    served, lora = config.students
    assert isinstance(served, EndpointStudent) and served.label == "student:served"
    assert (served.model, served.api_key_env, served.sampling.top_p, served.pacing.concurrency) == (
        "student-gguf", KEY_ENV, 0.9, 4)
    assert lora.pacing is None and lora.api_key_env is None and lora.base_url == "http://gpu:8000/v1"
    assert load_stage("eval", path, {"run": None}).config.students == config.students  # `distill eval --config`


@pytest.mark.parametrize(("entry", "message"), [
    (ENTRY.replace("base_url", "base_ur"), "eval.students.0.base_ur: Extra inputs are not permitted"),
    (ENTRY.replace('model = "student-gguf"\n', ""), "eval.students.0.model: Field required"),
    (ENTRY.replace('name = "served"\n', ""), "eval.students.0.name: Field required"),
    (ENTRY.replace('"served"', '"demo/R1"'), "eval.students.0.name: String should match pattern"),
    (ENTRY.replace("http://", ""), "eval.students.0.base_url: Value error, base_url must start with http://"),
    (ENTRY + "sampling = { temperatur = 0 }\n", "eval.students.0.sampling.temperatur: Extra inputs"),
    (ENTRY + "pacing = { concurrency = 0 }\n", "eval.students.0.pacing.concurrency: Input should be greater"),
    (ENTRY + 'api_key = "sk-123"\n', "eval.students.0: Value error, api_key: a key never goes in a file; set "
                                     "api_key_env"),
])
def test_a_bad_student_entry_names_the_key(tmp_path: Path, entry: str, message: str):
    path = study_with(tmp_path, entry)
    with pytest.raises(StudyConfigError) as caught:
        load_study_config(path)
    assert str(path) in str(caught.value) and message in str(caught.value)
    assert "sk-123" not in str(caught.value)


def test_two_students_of_one_name_are_refused(tmp_path: Path):
    with pytest.raises(StudyConfigError, match=r"eval.students: Value error, student name\(s\) served given more "
                                               "than once"):
        load_study_config(study_with(tmp_path, ENTRY, ENTRY.replace("8000", "8001")))


def test_an_eval_table_file_names_the_key(tmp_path: Path):
    path = tmp_path / "eval.toml"
    path.write_text(f'[eval]\nmodels = ""\n\n[[eval.students]]\n{ENTRY}modle = "x"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: eval.students.0.modle: Extra inputs are not "
                                                    "permitted")):
        load_stage("eval", path, {"run": "demo"})


@pytest.fixture
def sums(store, tmp_path):
    texts = [p["question"] for p in sums_with_split(store, tmp_path)]
    return store, tmp_path, write_scripted_model(tmp_path / "scripted", texts, hidden=256)


def test_an_unset_key_is_refused_before_any_model_answers(sums, monkeypatch):
    store, _, model = sums
    monkeypatch.delenv(KEY_ENV, raising=False)
    student = EndpointStudent(name="served", base_url="http://127.0.0.1:9/v1", model="m", api_key_env=KEY_ENV)
    with pytest.raises(EndpointError, match=f"environment variable {KEY_ENV} is not set"):
        evaluate(store, EvalConfig(run=RUN, models="base", base_model=str(model), students=[student]),
                 log=lambda line: None)
    assert store.scalar("SELECT count(*) FROM evaluations") == 0


class ServedStudent:
    """Answers 'What is A plus B ?' right, except when the sum is 42 (then 41: the base's one strength)."""

    def __init__(self):
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        a, b = (int(x) for x in re.search(r"What is (\d+) plus (\d+)", user_text(request)).groups())
        total = a + b if a + b != 42 else 41
        return Reply(content=f"{a} + {b} = {total}.\nAnswer: \\boxed{{{total}}}", completion_tokens=9)


def test_an_endpoint_student_is_evaluated_and_reported_like_any_student(sums, monkeypatch):
    store, tmp_path, model = sums
    monkeypatch.setenv(KEY_ENV, "sk-test-secret")
    responder = ServedStudent()
    with OpenAIServer(responder) as server:
        student = EndpointStudent(name="served", base_url=server.base_url, model="student-gguf", api_key_env=KEY_ENV,
                                  sampling={"temperature": 0.9, "max_tokens": 999, "top_p": 0.5,
                                            "extra_body": {"repeat_penalty": 1.0}}, max_retries=0,
                                  pacing={"concurrency": 2})
        config = EvalConfig(run=RUN, models="base", base_model=str(model), max_tokens=24, students=[student])
        outcome = evaluate(store, config, log=lambda line: None)
        assert outcome.errors == [] and outcome.generated == {"base#0": 4, "student:served#0": 4}
        # asked exactly as the teacher is: the student's prompt, the evaluation's decoding, the key from the env
        request = responder.requests[0]
        assert request["messages"] == student_messages(request["messages"][1]["content"])
        assert (request["model"], request["temperature"], request["max_tokens"], request["top_p"],
                request["repeat_penalty"]) == ("student-gguf", 0, 24, 0.5, 1.0)
        assert {entry.authorization for entry in server.log} == {"Bearer sk-test-secret"}
        again = evaluate(store, config, log=lambda line: None)  # resume: stored, nothing asked again
        assert again.generated == {"base#0": 0, "student:served#0": 0} and len(responder.requests) == 4

    [row] = store.query("SELECT * FROM evaluations WHERE label = 'student:served'")
    assert (row["kind"], row["model"], row["seed"], row["training_run"], row["level"]) == (
        "student", "student-gguf", 0, None, None)
    assert json.loads(row["manifest"])["api_key_env"] == KEY_ENV
    stored = json.dumps(store.query("SELECT * FROM evaluations"), default=str) + json.dumps(
        store.query("SELECT * FROM eval_items"), default=str)
    assert "sk-test-secret" not in stored

    accuracy = {r["label"]: r for r in store.query("SELECT * FROM eval_accuracy")}
    fortytwo = sum(1 for r in store.query("SELECT answer FROM test_problems WHERE run_name = ?", [RUN])
                   if r["answer"] == "42")
    assert accuracy["student:served"]["correct"] == 4 - fortytwo and accuracy["base"]["correct"] == fortytwo
    paired = [r for r in comparisons(store, RUN, "test", resamples=200) if r["label"] == "student:served"]
    assert {(r["reference"], r["seed"]) for r in paired} == {("base", 0), ("base", None)}
    assert all((r["model_better"], r["reference_better"]) == (4 - fortytwo, fortytwo) for r in paired)

    report = build_report(store, RUN, tmp_path / "report").markdown()
    assert "| student:served | 1 | 4 |" in report  # the accuracy table
    assert "student:served − base:" in report  # the headline of its paired comparison
