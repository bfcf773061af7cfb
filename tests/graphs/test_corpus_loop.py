"""The corpus loop with scripted chat models: accept, retry then accept, abstain, unparseable critic, length
finish, traces, caching/resume, budgets, failures, and the SQL views on a known run."""

import asyncio

import pytest
from distill.graphs.checkpoints import checkpoint_path
from distill.graphs.config import CorpusConfig
from distill.graphs.corpus_run import run_corpus
from distill.store import StoreError
from langchain_core.messages import AIMessage

from tests.support.corpus_fakes import calls, scripted_role, seed_problems, solver_by_question

ACCEPT = "VERDICT: ACCEPT\nREASON: the computation is right."


def reject(reason):
    return f"VERDICT: REJECT\nREASON: {reason}"


def build(store, solver, critic, run="r", **settings):
    pacing = {k: settings.pop(k) for k in ("concurrency", "rpm", "tpm", "token_budget") if k in settings}
    config = CorpusConfig(pacing={"concurrency": 1, **pacing}, **settings)
    return asyncio.run(run_corpus(store, run, config, solver, critic))


def rows(store, sql, *params):
    return store.query(sql, list(params))


@pytest.fixture
def seeded(store, tmp_path):
    seed_problems(store, tmp_path)
    return store


def test_accept_on_the_first_attempt(seeded):
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42", "10 minus 3": "7", "2 to 3": "2:3"}))
    critic = scripted_role("critic", lambda m: ACCEPT)
    tally = build(seeded, solver, critic)
    assert (tally.accepted, tally.abstained, tally.failed) == (3, 0, 0)
    corpus = rows(seeded, "SELECT problem_id, answer, decided_by, attempt FROM corpus ORDER BY problem_id")
    assert [(r["problem_id"], r["answer"], r["decided_by"], r["attempt"]) for r in corpus] == [
        ("toy/p1", "42", "rule", 1), ("toy/p2", "7", "rule", 1), ("toy/p3", "2:3", "rule", 1)]
    verdicts = rows(seeded, "SELECT judge, verdict, decided FROM verdicts WHERE problem_id = 'toy/p1' ORDER BY judge")
    assert [(v["judge"], v["verdict"], v["decided"]) for v in verdicts] == [
        ("critic", "accept", False), ("rule", "correct", True)]
    attempt = rows(seeded, "SELECT * FROM attempts WHERE problem_id = 'toy/p1'")[0]
    assert attempt["prompt_version"] == solver.prompt.version and attempt["status"] == "ok"
    assert attempt["prompt_tokens"] == 10 and attempt["completion_tokens"] == 5
    assert len(calls(solver)) == 3 and len(calls(critic)) == 3


def test_retry_with_the_critique_then_accept(seeded):
    tries = {"n": 0}

    def solve(messages):
        tries["n"] += 1
        return "5" if tries["n"] == 1 else "42"

    solver = scripted_role("solver", solver_by_question({"6 times 7": solve}))
    critic = scripted_role("critic", lambda m: ACCEPT if "Candidate final answer: 42" in m[-1].content
                           else reject("Step 2 multiplies wrongly; 6 times 7 is 42, not 5."))
    build(seeded, solver, critic, limit=1)
    second = calls(solver)[1][-1].content
    assert "answered 5" in second and "Step 2 multiplies wrongly" in second
    assert "42" not in second, "the reference answer leaked into the solver's feedback"
    assert "[withheld]" in second
    outcome = rows(seeded, "SELECT status, attempts FROM problem_outcomes")[0]
    assert (outcome["status"], outcome["attempts"]) == ("accepted", 2)
    attempts = rows(seeded, "SELECT attempt, answer FROM attempts ORDER BY attempt")
    assert [(a["attempt"], a["answer"]) for a in attempts] == [(1, "5"), (2, "42")]


def test_abstain_when_attempts_are_spent(seeded):
    solver = scripted_role("solver", solver_by_question({"6 times 7": "41"}))
    critic = scripted_role("critic", lambda m: reject("Off by one."))
    tally = build(seeded, solver, critic, limit=1, max_attempts=3)
    assert (tally.accepted, tally.abstained) == (0, 1)
    outcome = rows(seeded, "SELECT status, reason, attempts FROM problem_outcomes")[0]
    assert outcome == {"status": "abstained", "reason": "3 attempt(s) spent", "attempts": 3}
    assert rows(seeded, "SELECT count(*) AS n FROM corpus")[0]["n"] == 0
    assert len(calls(solver)) == 3 and len(calls(critic)) == 3


def test_unparseable_critic_is_recorded_and_not_accepted(seeded):
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42"}))
    critic = scripted_role("critic", lambda m: "Looks fine to me, I guess.")
    tally = build(seeded, solver, critic, limit=1, critic_mode="llm", max_attempts=2)
    assert tally.abstained == 1
    verdicts = rows(seeded, "SELECT attempt, verdict, decided, reason FROM verdicts WHERE judge = 'critic'"
                            " ORDER BY attempt")
    assert [(v["attempt"], v["verdict"], v["decided"]) for v in verdicts] == [
        (1, "unparseable", True), (2, "unparseable", True)]
    assert "no ACCEPT/REJECT verdict" in verdicts[0]["reason"]
    assert "could not be verified" in calls(solver)[1][-1].content


def test_length_finish_is_a_failed_attempt_never_an_answer(seeded):
    replies = iter([
        AIMessage(content="Step 1: 6 times 7 is \\boxed{42} and then", response_metadata={"finish_reason": "length"}),
        "Answer: \\boxed{42}",
    ])
    solver = scripted_role("solver", lambda m: next(replies))
    critic = scripted_role("critic", lambda m: ACCEPT)
    build(seeded, solver, critic, limit=1)
    attempts = rows(seeded, "SELECT attempt, status, answer, finish_reason FROM attempts ORDER BY attempt")
    assert attempts[0] == {"attempt": 1, "status": "length", "answer": None, "finish_reason": "length"}
    assert attempts[1]["status"] == "ok" and attempts[1]["answer"] == "42"
    assert rows(seeded, "SELECT count(*) AS n FROM verdicts WHERE attempt = 1")[0]["n"] == 0
    assert len(calls(critic)) == 1
    assert "cut off" in calls(solver)[1][-1].content


def test_a_bare_answer_is_retried_for_its_steps_when_work_is_required(seeded):
    replies = iter(["Answer: \\boxed{42}", "6 times 7 = 42.\nAnswer: \\boxed{42}"])
    solver = scripted_role("solver", lambda m: next(replies))
    tally = build(seeded, solver, None, critic_mode="rule", limit=1, min_reasoning_words=4)
    assert tally.accepted == 1
    attempts = rows(seeded, "SELECT attempt, status, answer FROM attempts ORDER BY attempt")
    assert [(a["attempt"], a["status"], a["answer"]) for a in attempts] == [(1, "no_work", "42"), (2, "ok", "42")]
    assert "without the calculation" in calls(solver)[1][-1].content
    assert rows(seeded, "SELECT attempt FROM corpus")[0]["attempt"] == 2


def test_a_bare_answer_is_accepted_by_default_and_abstains_when_work_is_required(seeded):
    solver = scripted_role("solver", lambda m: "Answer: \\boxed{42}")
    assert build(seeded, solver, None, run="plain", critic_mode="rule", limit=1).accepted == 1
    tally = build(seeded, solver, None, run="strict", critic_mode="rule", limit=1, max_attempts=2,
                  min_reasoning_words=4)
    assert tally.abstained == 1
    reason = rows(seeded, "SELECT reason FROM problem_outcomes WHERE run_name = 'strict'")[0]["reason"]
    assert reason == "2 attempt(s) spent; 2 without the steps (fewer than 4 words besides the answer)"


def test_reasoning_traces_are_kept_and_answers_recovered_from_them(seeded):
    traces = {
        "6 times 7": AIMessage(content="Answer: \\boxed{42}",
                               additional_kwargs={"reasoning_content": "6*7: 6*7=42. So 42."},
                               response_metadata={"finish_reason": "stop"}),
        "10 minus 3": AIMessage(content="<think>10-3 is 7.</think>\nSo the answer is \\boxed{7}.",
                                response_metadata={"finish_reason": "stop"}),
        "2 to 3": AIMessage(content="", additional_kwargs={"reasoning_content": "Ratio... Answer: \\boxed{2:3}"},
                            response_metadata={"finish_reason": "stop"}),
    }
    solver = scripted_role("solver", solver_by_question(traces))
    critic = scripted_role("critic", lambda m: ACCEPT)
    build(seeded, solver, critic)
    got = {r["problem_id"]: r for r in rows(seeded, "SELECT * FROM attempts")}
    assert (got["toy/p1"]["reasoning"], got["toy/p1"]["reasoning_source"], got["toy/p1"]["answer_source"]) == (
        "6*7: 6*7=42. So 42.", "reasoning_field", "content")
    assert (got["toy/p2"]["reasoning"], got["toy/p2"]["reasoning_source"]) == ("10-3 is 7.", "think_tag")
    assert "<think>" not in got["toy/p2"]["content"]
    assert (got["toy/p3"]["answer"], got["toy/p3"]["answer_source"], got["toy/p3"]["status"]) == ("2:3", "trace", "ok")
    assert rows(seeded, "SELECT count(*) AS n FROM corpus")[0]["n"] == 3


def test_rule_mode_makes_no_critic_calls(seeded):
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42", "10 minus 3": "8", "2 to 3": "2:3"}))
    tally = build(seeded, solver, None, critic_mode="rule", max_attempts=1)
    assert (tally.accepted, tally.abstained) == (2, 1)
    assert rows(seeded, "SELECT count(*) AS n FROM verdicts WHERE judge = 'critic'")[0]["n"] == 0


def test_a_rerun_makes_no_call_and_changes_nothing(seeded):
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42", "10 minus 3": "8", "2 to 3": "2:3"}))
    critic = scripted_role("critic", lambda m: ACCEPT if "Candidate final answer: 8" not in m[-1].content
                           else reject("Subtraction error."))
    build(seeded, solver, critic)
    before = {t: rows(seeded, f"SELECT * FROM {t} ORDER BY ALL") for t in ("attempts", "verdicts", "corpus")}
    again_solver = scripted_role("solver", lambda m: pytest.fail("no solver call expected"))
    again_critic = scripted_role("critic", lambda m: pytest.fail("no critic call expected"))
    tally = build(seeded, again_solver, again_critic)
    assert tally.total == 0
    assert {t: rows(seeded, f"SELECT * FROM {t} ORDER BY ALL") for t in before} == before


def test_a_crash_mid_problem_resumes_without_repeating_a_call(seeded):
    """The critic crashes the process-equivalent (an unexpected error) after the solver's result was stored;
    the rerun resumes from the checkpoint and the stored attempt, calling the solver no more."""
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42"}))
    critic = scripted_role("critic", lambda m: KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        build(seeded, solver, critic, limit=1)
    assert rows(seeded, "SELECT count(*) AS n FROM attempts")[0]["n"] == 1
    resumed_solver = scripted_role("solver", lambda m: pytest.fail("the stored attempt must be reused"))
    resumed_critic = scripted_role("critic", lambda m: ACCEPT)
    tally = build(seeded, resumed_solver, resumed_critic, limit=1)
    assert tally.accepted == 1 and len(calls(resumed_critic)) == 1


def test_checkpoints_of_finished_threads_are_pruned(seeded):
    import sqlite3

    solver = scripted_role("solver", solver_by_question({"6 times 7": "42", "10 minus 3": "7", "2 to 3": "2:3"}))
    build(seeded, solver, scripted_role("critic", lambda m: ACCEPT))
    with sqlite3.connect(checkpoint_path(seeded)) as con:
        assert con.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM writes").fetchone()[0] == 0


def test_a_changed_prompt_cannot_resume_the_same_run(seeded, tmp_path):
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42"}))
    build(seeded, solver, None, critic_mode="rule", limit=1)
    edited = tmp_path / "solver.md"
    from distill.agents.prompts import load_prompt

    edited.write_text(load_prompt("solver").text.replace("expert", "careful"))
    changed = scripted_role("solver", solver_by_question({"6 times 7": "42"}), prompt_file=edited)
    with pytest.raises(StoreError, match="different configuration"):
        build(seeded, changed, None, critic_mode="rule", limit=1)
    # pacing settings may change between resumes
    build(seeded, solver, None, critic_mode="rule", limit=2, concurrency=4)


def test_token_budget_stops_and_a_larger_budget_resumes(seeded):
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42", "10 minus 3": "7", "2 to 3": "2:3"}))
    tally = build(seeded, solver, None, critic_mode="rule", token_budget=30)  # 15 tokens per call
    assert tally.accepted == 2 and tally.stopped and "token budget" in tally.stopped
    assert rows(seeded, "SELECT status FROM runs")[0]["status"] == "incomplete"
    tally = build(seeded, solver, None, critic_mode="rule", token_budget=100)
    assert tally.accepted == 1 and tally.stopped is None
    assert rows(seeded, "SELECT count(*) AS n FROM attempts")[0]["n"] == 3
    assert rows(seeded, "SELECT status FROM runs")[0]["status"] == "complete"


def test_an_endpoint_failure_fails_the_problem_and_the_next_run_retries_it(seeded):
    class AuthenticationError(Exception):  # a provider SDK's error, as a LangChain model raises it: read by shape
        status_code = 401

    denied = AuthenticationError("bad key")
    solver = scripted_role("solver", lambda m: denied)
    tally = build(seeded, solver, None, critic_mode="rule", limit=1)
    assert tally.failed == 1 and "HTTP 401" in tally.errors[0]
    assert rows(seeded, "SELECT status FROM problem_outcomes")[0]["status"] == "failed"
    assert rows(seeded, "SELECT role, attempt FROM call_errors") == [{"role": "solver", "attempt": 1}]
    fixed = scripted_role("solver", solver_by_question({"6 times 7": "42"}))
    assert build(seeded, fixed, None, critic_mode="rule", limit=1).accepted == 1
    assert rows(seeded, "SELECT status FROM problem_outcomes")[0]["status"] == "accepted"


def test_the_views_on_a_known_run(seeded):
    # p1: rule correct, critic rejects (disagreement), then accepted on attempt 2 by the rule
    # p2: rule incorrect, critic accepts -> llm mode accepts it: accepted but wrong
    # p3: both agree, accepted
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42", "10 minus 3": "8", "2 to 3": "2:3"}))
    seen = {"p1": 0}

    def critic_script(messages):
        text = messages[-1].content
        if "6 times 7" in text:
            seen["p1"] += 1
            return reject("Unjustified step.") if seen["p1"] == 1 else ACCEPT
        return ACCEPT

    build(seeded, solver, scripted_role("critic", critic_script), critic_mode="llm", max_attempts=2)
    got = rows(seeded, "SELECT problem_id, attempt, kind FROM disagreements ORDER BY problem_id, attempt")
    assert [(r["problem_id"], r["attempt"], r["kind"]) for r in got] == [
        ("toy/p1", 1, "rule_correct_critic_rejects"), ("toy/p2", 1, "accepted_but_wrong")]
    summary = rows(seeded, "SELECT done, accepted, abstained, failed, accept_rate, attempts, tokens FROM run_summary")
    assert summary == [{"done": 3, "accepted": 3, "abstained": 0, "failed": 0, "accept_rate": 1.0, "attempts": 4,
                        "tokens": 4 * 15 + 4 * 15}]
    by_prompt = rows(seeded, "SELECT attempts, accepted, accept_rate FROM acceptance_by_prompt")
    assert by_prompt == [{"attempts": 4, "accepted": 3, "accept_rate": 0.75}]


def test_a_checkpoint_at_a_step_the_graph_no_longer_has_restarts_its_item_without_a_second_call(seeded):
    """An older distill's graph had a `check` step; a run interrupted there resumes with today's graph: LangGraph
    finds no next step for it, so the runner starts the item again, and its stored attempt is replayed by key."""
    from distill.graphs import corpus
    from distill.graphs.calls import Caller
    from distill.graphs.checkpoints import open_checkpointer
    from distill.graphs.corpus_nodes import CorpusNodes
    from distill.graphs.corpus_run import CorpusStage
    from distill.graphs.limits import Limits
    from distill.graphs.runner import thread_id
    from distill.store.corpus import register_run
    from distill.store.writer import AsyncWriter
    from langgraph.graph import StateGraph

    solver = scripted_role("solver", solver_by_question({"6 times 7": "42"}))

    async def crash_in_check(state, runtime):
        raise RuntimeError("killed in the old check step")

    old = StateGraph(corpus.CorpusState, context_schema=CorpusNodes)
    old.add_node("solve", corpus.solve)
    old.add_node("check", crash_in_check)
    old.add_edge("__start__", "solve")
    old.add_edge("solve", "check")
    old.add_edge("check", "__end__")
    problem = rows(seeded, "SELECT problem_id, question, answer FROM problems ORDER BY ingest_order LIMIT 1")[0]

    async def interrupted_old_run():
        stage = CorpusStage(seeded, "r", CorpusConfig(critic_mode="rule"), solver, None)
        register_run(seeded, "r", "corpus", stage.manifest(), stage.identity())
        writer = AsyncWriter(seeded)
        try:
            async with open_checkpointer(checkpoint_path(seeded)) as saver:
                saver.run_write = writer.after_rows
                nodes = CorpusNodes(Caller("r", writer, Limits()), solver, None, "rule", max_attempts=2)
                config = {"configurable": {"thread_id": thread_id("r", problem["problem_id"])}}
                with pytest.raises(RuntimeError, match="old check step"):
                    await old.compile(checkpointer=saver).ainvoke(corpus.initial_state(problem), config,
                                                                  context=nodes)
                assert (await old.compile(checkpointer=saver).aget_state(config)).next == ("check",)
        finally:
            await writer.close()

    asyncio.run(interrupted_old_run())
    assert len(calls(solver)) == 1
    tally = build(seeded, solver, None, critic_mode="rule", limit=1)
    assert (tally.accepted, tally.failed) == (1, 0)
    assert len(calls(solver)) == 1  # the stored attempt was replayed by its key
