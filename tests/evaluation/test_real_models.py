"""The default models through `evaluate`: the default student (MLX, batched) and the default teacher (llama.cpp,
through the runner) answer sample problems of a held-out split; every answer is stored and graded, truncation
agrees with the token count or the finish reason."""

import pytest
from distill.evaluation.config import EvalConfig
from distill.evaluation.run import evaluate
from distill.store.ingest import ingest
from distill.store.rows import CorpusRow, RunRow
from distill.store.writer import insert
from distill.training.splits import make_split

from tests.support.paths import SAMPLE

pytestmark = pytest.mark.real_models
RUN = "sample-run"


@pytest.fixture
def sample_split(store):
    """The bundled sample set with a corpus run that 'accepted' every problem (its reasoning is a stub: only the
    held-out split matters here), split with seed 0."""
    ingest(store, SAMPLE, "obryan", source="sample")
    insert(store.cursor(), RunRow(run_name=RUN, kind="corpus", status="finished",
                                  manifest={"config": {"source": "sample"}}))
    insert(store.cursor(), *(CorpusRow(run_name=RUN, problem_id=row["problem_id"], attempt=1, call_key="k",
                                       reasoning="stub", content="stub", answer=row["answer"], decided_by="rule")
                             for row in store.query("SELECT problem_id, answer FROM active_problems")))
    make_split(store, RUN, 0)
    return store


def test_default_student_answers_in_batches(sample_split, real_models):
    outcome = evaluate(sample_split, EvalConfig(run=RUN, models="base", limit=3, max_tokens=48, batch_size=3),
                       log=print)
    assert outcome.generated == {"base#0": 3}
    rows = sample_split.query("SELECT * FROM eval_items")
    assert len(rows) == 3
    for row in rows:
        assert row["prompt_tokens"] > 30 and 0 < row["tokens"] <= 48 and row["batch_size"] == 3
        assert row["truncated"] == (row["tokens"] == 48) and row["response"]
        assert row["rule_verdict"] in ("correct", "incorrect", "undecided")
    [summary] = sample_split.query("SELECT * FROM eval_accuracy")
    assert summary["problems"] == 3 and summary["correct"] + summary["incorrect"] + summary["undecided"] + \
        summary["truncated"] == 3


def test_default_teacher_answers_through_llama_cpp(sample_split, real_models, llama_cpp):
    outcome = evaluate(sample_split, EvalConfig(run=RUN, models="teacher", limit=2, max_tokens=96), log=print)
    assert outcome.generated == {"teacher#0": 2} and outcome.errors == []
    for row in sample_split.query("SELECT * FROM eval_items"):
        assert row["finish_reason"] in ("stop", "length") and row["truncated"] == (row["finish_reason"] == "length")
        assert row["call_key"] and row["latency_ms"] > 0 and row["tokens"] <= 96
    evaluation = sample_split.query("SELECT * FROM evaluations")[0]
    assert evaluation["kind"] == "teacher" and evaluation["model"].startswith("teacher@")
