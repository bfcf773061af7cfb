"""The grading cascade on a real store: the rule decides what it can; the judge (scripted, on the real runner) is
asked only about undecided, untruncated answers; truncated answers are counted apart; both verdicts are stored
and the views agree with the Python twin of the outcome rule."""

import asyncio
import json

import pytest
from distill.evaluation.endpoint_stages import judge_undecided
from distill.evaluation.grading import final_outcome, grade_response, needs_judge, regrade
from distill.graphs.runner import Pacing
from distill.store import evaluation as db
from distill.store.ingest import ingest

from tests.evaluation.helpers import add_answer, boxed, make_evaluation
from tests.support.corpus_fakes import calls, scripted_role

PROBLEMS = [
    {"id": "a", "question": "What is 6 times 7?", "answer": "42"},
    {"id": "b", "question": "What is 10 minus 3?", "answer": "7"},
    {"id": "c", "question": "Write 4/6 in lowest terms.", "answer": "2/3"},
    {"id": "d", "question": "What fraction of the class passed, as a percent?", "answer": "50%"},
    {"id": "e", "question": "Simplify 8/12.", "answer": "2/3"},
    {"id": "f", "question": "What is 2 plus 2?", "answer": "4"},
]
RESPONSES = {"a": boxed("42"), "b": boxed("8"), "c": boxed("4/6"), "d": boxed("0.5"), "e": boxed("8/12"), "f": ""}


@pytest.mark.parametrize("truncated, rule, judge, outcome", [
    (False, "correct", None, "correct"),
    (False, "incorrect", "correct", "incorrect"),  # the rule decided: the judge does not override it
    (False, "undecided", "correct", "correct"),
    (False, "undecided", "incorrect", "incorrect"),
    (False, "undecided", "unparseable", "undecided"),
    (False, "undecided", None, "undecided"),
    (True, "correct", None, "truncated"),  # cut at max_tokens: never graded, even with a boxed answer
    (True, "undecided", "correct", "truncated"),
])
def test_final_outcome(truncated, rule, judge, outcome):
    assert final_outcome(truncated, rule, judge) == outcome


def test_only_untruncated_undecided_answers_go_to_the_judge():
    assert needs_judge(False, "undecided")
    assert not needs_judge(True, "undecided")
    assert not needs_judge(False, "correct") and not needs_judge(False, "incorrect")


def test_grade_response_reads_the_trace_when_the_content_has_no_answer():
    graded = grade_response("I am done.", "12", reasoning="3 times 4 is 12.\nAnswer: \\boxed{12}")
    assert (graded.answer, graded.answer_method, graded.rule_verdict) == ("12", "boxed", "correct")
    assert grade_response("", "12").rule_verdict == "incorrect"  # no answer is wrong, never correct


@pytest.fixture
def graded_store(store, tmp_path):
    path = tmp_path / "cascade.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    ingest(store, path, "jsonl", source="toy")
    evaluation_id = make_evaluation(store, "r", "base", "base")
    for pid, response in RESPONSES.items():
        add_answer(store, evaluation_id, f"toy/{pid}", response, truncated=pid == "e")
    return store, evaluation_id


def judge_script(messages):
    question = messages[-1].content
    if "lowest terms" in question:
        return "VERDICT: INCORRECT\nREASON: the question asks for lowest terms."
    if "percent" in question:
        return "I cannot tell."
    raise AssertionError(f"the judge was asked about a decided answer: {question[:80]}")


def run_judge(store, evaluation_id, role):
    return asyncio.run(judge_undecided(store, "r", [evaluation_id], role, Pacing(concurrency=2)))


def outcomes(store):
    return {r["problem_id"].split("/")[1]: (r["outcome"], r["decided_by"])
            for r in store.query("SELECT * FROM eval_results")}


def test_grade_response_passes_the_question_to_the_rule():
    """`12th grade` for `12` is decided only when the question asks for the grade."""
    assert grade_response("Answer: \\boxed{12th grade}", "12").rule_verdict == "undecided"
    graded = grade_response("Answer: \\boxed{12th grade}", "12", question="What grade is Sam in?")
    assert (graded.rule_verdict, graded.answer) == ("correct", "12th grade")
    assert grade_response("Answer: \\boxed{12th grade}", "11", question="What grade is Sam in?").rule_verdict == (
        "incorrect")


def test_regrade_reads_the_question_from_the_store():
    item = {"evaluation_id": 1, "problem_id": "p", "response": "Answer: \\boxed{12th grade}", "reasoning": None,
            "gold": "12", "answer": "12th grade", "answer_method": "boxed", "rule_verdict": "undecided",
            "rule_reason": "prediction is prose around a number", "rule_compared": "12th grade"}
    assert regrade([item]) == []
    [changed] = regrade([{**item, "question": "Which grade is Sam in?"}])
    assert changed["rule_verdict"] == "correct"


def test_cascade_rule_then_judge_then_undecided(graded_store):
    store, evaluation_id = graded_store
    rules = {r["problem_id"][4:]: r["rule_verdict"] for r in store.query("SELECT * FROM eval_items")}
    assert rules == {"a": "correct", "b": "incorrect", "c": "undecided", "d": "undecided", "e": "undecided",
                     "f": "incorrect"}
    role = scripted_role("judge", judge_script)
    tally = run_judge(store, evaluation_id, role)
    assert len(calls(role)) == 2 and tally.incorrect == 1 and tally.unparseable == 1
    assert outcomes(store) == {"a": ("correct", "rule"), "b": ("incorrect", "rule"), "c": ("incorrect", "judge"),
                               "d": ("undecided", None), "e": ("truncated", None), "f": ("incorrect", "rule")}
    [summary] = store.query("SELECT * FROM eval_accuracy")
    assert (summary["problems"], summary["correct"], summary["incorrect"], summary["undecided"],
            summary["truncated"], summary["judged"]) == (6, 1, 3, 1, 1, 1)
    assert summary["accuracy"] == pytest.approx(1 / 6)
    judgements = store.query("SELECT problem_id, verdict, content, model, prompt_version FROM eval_judgements "
                             "ORDER BY problem_id")
    assert [(j["problem_id"], j["verdict"]) for j in judgements] == [("toy/c", "incorrect"), ("toy/d", "unparseable")]
    assert judgements[1]["content"] == "I cannot tell." and judgements[0]["prompt_version"] == role.prompt.version
    # both verdicts stay visible; the truncated answer is not among the grading questions
    rows = {r["problem_id"]: r for r in store.query("SELECT * FROM grading_disagreements")}
    assert {pid: r["kind"] for pid, r in rows.items()} == {"toy/c": "judge_decided", "toy/d": "undecided"}
    assert rows["toy/c"]["rule_verdict"] == "undecided" and rows["toy/c"]["judge_verdict"] == "incorrect"
    for row in store.query("SELECT * FROM eval_results"):
        assert row["outcome"] == final_outcome(row["truncated"], row["rule_verdict"], row["judge_verdict"])


def test_judge_resumes_without_asking_again(graded_store):
    store, evaluation_id = graded_store
    run_judge(store, evaluation_id, scripted_role("judge", judge_script))
    again = scripted_role("judge", judge_script)
    tally = run_judge(store, evaluation_id, again)
    assert calls(again) == [] and tally.total == 0
    other_judge = scripted_role("judge", judge_script, model="another-judge")  # another judge: asked afresh
    run_judge(store, evaluation_id, other_judge)
    assert len(calls(other_judge)) == 2


def test_a_newer_rule_that_decides_shows_up_as_a_disagreement(graded_store):
    store, evaluation_id = graded_store
    run_judge(store, evaluation_id, scripted_role("judge", judge_script))
    # as if the rule now accepted the unreduced fraction: the rule decides, the disagreement stays visible
    store.cursor().execute("UPDATE eval_items SET rule_verdict = 'correct' WHERE problem_id = 'toy/c'")
    assert outcomes(store)["c"] == ("correct", "rule")
    [row] = store.query("SELECT * FROM grading_disagreements WHERE kind = 'rule_vs_judge'")
    assert (row["problem_id"], row["rule_verdict"], row["judge_verdict"]) == ("toy/c", "correct", "incorrect")


def test_regrade_finds_stale_verdicts_and_stores_the_current_rule(graded_store):
    store, evaluation_id = graded_store
    store.cursor().execute("UPDATE eval_items SET rule_verdict = 'incorrect', rule_reason = 'old rule' "
                           "WHERE problem_id = 'toy/a'")
    changed = regrade(db.items_to_grade(store, [evaluation_id]))
    assert [(c["problem_id"], c["rule_verdict"]) for c in changed] == [("toy/a", "correct")]
    db.update_rule_verdicts(store, changed)
    assert regrade(db.items_to_grade(store, [evaluation_id])) == []
    assert outcomes(store)["a"] == ("correct", "rule")
