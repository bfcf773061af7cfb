"""Transport faults are retried, recorded failures, never internal errors: an HTTP 200 with an empty or non-JSON
body, and a corpus build against a server that sends empty bodies 30% of the time."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import pytest
from distill.agents.chat import ChatCallError, ChatClient
from distill.agents.endpoints import EndpointConfig
from distill.store import Store

from tests.graphs.test_corpus_http import arithmetic_teacher, run_in_process, seed
from tests.support.openai_server import OpenAIServer, Reply, is_critic


def complete_once(server, max_retries=2, timeout_s=300.0, base_url=None):
    async def go():
        client = ChatClient.from_endpoint(EndpointConfig(base_url=base_url or server.base_url, model="scripted",
                                                         max_retries=max_retries, timeout_s=timeout_s))
        client.wait_initial_s, client.wait_max_s = 0.001, 0.002
        try:
            return await client.complete([{"role": "user", "content": "What is 1 plus 2?"}])
        finally:
            await client.aclose()
    return asyncio.run(go())


@pytest.mark.parametrize(("body", "content_type", "fault"), [
    (b"", "application/json", "empty body"),
    (b"<html>bad gateway</html>", "application/json", "non-JSON body"),
    (b'{"id": "x", "choi', "application/json", "non-JSON body"),
    (b"<html>bad gateway</html>", "text/html", "non-JSON body"),
    (b"", "text/plain", "empty body"),
])
def test_a_bad_200_body_is_retried_then_an_empty_completion(body, content_type, fault):
    with OpenAIServer(arithmetic_teacher, fault_rate=1.0, fault_body=body, fault_content_type=content_type) as server:
        completion = complete_once(server, max_retries=2)
    assert len(server.log) == 3  # the first try and two retries
    assert (completion.failure, completion.fault, completion.retries) == ("empty", fault, 2)


def test_a_bad_body_then_a_good_one_is_just_a_retry():
    with OpenAIServer(arithmetic_teacher, fault_rate=0.5, fault_seed=3) as server:
        completion = complete_once(server, max_retries=6)
    assert completion.failure is None and completion.content == "Answer: \\boxed{3}"
    assert completion.retries == sum(e.fault for e in server.log) >= 1


def test_a_client_error_is_not_retried_and_names_the_server_message():
    refuse = lambda body: Reply(status=400, content="model 'scripted' does not exist")  # noqa: E731
    with OpenAIServer(refuse) as server, pytest.raises(ChatCallError) as failed:
        complete_once(server, max_retries=3)
    assert len(server.log) == 1 and failed.value.reason == "HTTP 400"
    assert "model 'scripted' does not exist" in str(failed.value)


def test_retry_after_is_waited_for():
    replies = iter([Reply(status=429, headers={"Retry-After": "0.4"}), Reply(content="Answer: \\boxed{3}")])
    with OpenAIServer(lambda body: next(replies)) as server:
        started = time.perf_counter()
        completion = complete_once(server, max_retries=2)
    assert time.perf_counter() - started >= 0.4  # not the test's 2 ms backoff
    assert (completion.content, completion.retries) == ("Answer: \\boxed{3}", 1)


def test_timeouts_and_refused_connections_fail_the_call_for_good_after_their_retries():
    with OpenAIServer(arithmetic_teacher, latency_s=1.0) as server, pytest.raises(ChatCallError) as slow:
        complete_once(server, max_retries=1, timeout_s=0.2)
    assert slow.value.reason == "timeout" and len(server.log) == 2
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ChatCallError) as refused:
        complete_once(None, max_retries=1, base_url=f"http://127.0.0.1:{port}/v1")
    assert refused.value.reason == "connection error" and "after 2 tries" in str(refused.value)


def test_faulty_calls_are_failed_attempts_stored_in_call_errors(tmp_path):
    path = tmp_path / "s.duckdb"
    seed(path, 1)
    with OpenAIServer(arithmetic_teacher, fault_rate=1.0) as server, Store(path) as store:
        tally = run_in_process(store, server, max_attempts=2)
        assert (tally.abstained, tally.failed) == (1, 0)
        assert tally.faults == {"empty body": 2}
        assert [r["status"] for r in store.query("SELECT status FROM attempts ORDER BY attempt")] == ["empty"] * 2
        errors = store.query("SELECT role, attempt, reason, error FROM call_errors ORDER BY attempt")
        assert [(e["role"], e["attempt"], e["reason"]) for e in errors] == [("solver", 1, "empty body"),
                                                                          ("solver", 2, "empty body")]
        assert "empty body after 7 tries" in errors[0]["error"]
        reason = store.scalar("SELECT reason FROM problem_outcomes")
        assert reason == "2 attempt(s) spent; 2 empty (endpoint faults, see call_errors)"


def test_an_abstention_cut_at_the_token_limit_says_so(tmp_path):
    path = tmp_path / "s.duckdb"
    seed(path, 1)

    def rambling(request):
        if is_critic(request):
            return arithmetic_teacher(request)
        return Reply(content="", reasoning_content="Let me think about this for a very long", finish_reason="length")

    with OpenAIServer(rambling) as server, Store(path) as store:
        tally = run_in_process(store, server, max_attempts=3)
        assert tally.abstained == 1
        reason = store.scalar("SELECT reason FROM problem_outcomes")
    assert reason.startswith("3 attempt(s) spent; 3 cut off at the token limit (max_tokens ")
    assert "raise --max-tokens" in reason


def test_a_build_at_30_percent_empty_bodies_ends_cleanly(tmp_path):
    db, problems = tmp_path / "f.duckdb", 30
    seed(db, problems)
    with OpenAIServer(arithmetic_teacher, fault_rate=0.3, fault_seed=14) as server:
        config = tmp_path / "faults.toml"
        config.write_text(f'[corpus]\nmax_attempts = 2\npacing = {{ concurrency = 8 }}\n[corpus.teacher]\nbase_url = '
                          f'"{server.base_url}"\nmodel = "scripted"\nmax_retries = 1\n')
        code = "import sys; from distill.cli import main; sys.argv[0] = 'distill'; main()"
        done = subprocess.run([sys.executable, "-c", code, "build", "--run", "faults", "--config", str(config),
                               "--db", str(db)], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "COLUMNS": "200"})
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    assert sum(e.fault for e in server.log) > 0
    with Store(db, read_only=True) as store:
        outcomes = store.query("SELECT status, reason FROM problem_outcomes")
        faults = store.query("SELECT reason, count(*) AS n FROM call_errors GROUP BY reason")
        empty_attempts = store.scalar("SELECT count(*) FROM attempts WHERE status = 'empty'")
    assert len(outcomes) == problems
    assert {o["status"] for o in outcomes} <= {"accepted", "abstained", "failed"}
    assert all(o["reason"] for o in outcomes)
    assert [f["reason"] for f in faults] == ["empty body"]
    assert faults[0]["n"] >= empty_attempts > 0  # every empty attempt, and every failed critic call, is recorded
    accepted = sum(o["status"] == "accepted" for o in outcomes)
    assert f"run faults: {accepted} accepted" in done.stdout
    assert f"{faults[0]['n']} call(s) failed after their retries (" in done.stderr.replace("\n", "")
    print(done.stdout, done.stderr)


def test_failed_problems_are_summarised_by_reason(cli, tmp_path):
    seed(tmp_path / "cli.duckdb", 8)
    with OpenAIServer(lambda request: Reply(status=500)) as server:
        config = tmp_path / "down.toml"
        config.write_text(f'[corpus.teacher]\nbase_url = "{server.base_url}"\nmodel = "scripted"\nmax_retries = 0\n')
        result = cli("build", "--run", "down", "--config", config)
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "8 call(s) failed after their retries (8 HTTP 500)" in output
    assert "8 problem(s) failed (8 HTTP 500):" in output
    assert "sums/s000: endpoint: scripted: HTTP 500 after 1 tries" in output
    assert "... and 3 more" in output and "rerun the same command to retry them" in output
    assert "Traceback" not in output
