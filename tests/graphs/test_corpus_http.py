"""The corpus loop against a real local OpenAI-compatible HTTP server (scripted): reasoning_content, 429s,
500s, empty bodies; and SIGKILL / Ctrl-C of a real `distill build` process followed by a resume."""

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from distill.agents.endpoints import EndpointConfig, SamplingParams
from distill.graphs.build import make_role
from distill.graphs.config import CorpusConfig
from distill.graphs.corpus_run import run_corpus
from distill.store import Store
from distill.store.ingest import ingest

from tests.support.openai_server import ADD, OpenAIServer, Reply, arithmetic_teacher, is_critic, user_text
from tests.support.waiting import wait_for


def seed(path, n):
    problems = path.parent / "sums.jsonl"
    problems.write_text("".join(json.dumps({"id": f"s{i:03d}", "question": f"What is {i} plus {i + 1}?",
                                            "answer": str(2 * i + 1)}) + "\n" for i in range(n)))
    with Store(path) as store:
        ingest(store, problems, "jsonl", source="sums")


def endpoint(server, **sampling):
    return EndpointConfig(base_url=server.base_url, model="scripted", sampling=SamplingParams(**sampling))


def run_in_process(store, server, run="http", **settings):
    config = CorpusConfig(teacher=endpoint(server), **settings)
    solver, critic = make_role("solver", config.teacher, config), make_role("critic", config.teacher, config)
    for role in (solver, critic):
        role.client.wait_initial_s, role.client.wait_max_s = 0.01, 0.05
    return asyncio.run(run_corpus(store, run, config, solver, critic))


def test_reasoning_content_429_500_and_empty_bodies(tmp_path):
    path = tmp_path / "s.duckdb"
    seed(path, 4)
    seen = collections.Counter()

    def flaky(request):
        text = user_text(request)
        key = ("critic" if is_critic(request) else "solver", ADD.search(text).group(1))
        seen[key] += 1
        if key == ("solver", "0") and seen[key] == 1:
            return Reply(status=429, headers={"Retry-After": "0"})
        if key == ("solver", "1") and seen[key] <= 2:
            return Reply(status=500)
        if key == ("critic", "2") and seen[key] == 1:
            return Reply(content="")  # an empty body: retried
        return arithmetic_teacher(request)

    with OpenAIServer(flaky) as server, Store(path) as store:
        tally = run_in_process(store, server)
        assert (tally.accepted, tally.failed) == (4, 0)
        attempts = {r["problem_id"]: r for r in store.query("SELECT * FROM attempts")}
        assert attempts["sums/s000"]["reasoning"] == "0 + 1 = 1." and attempts["sums/s000"]["answer"] == "1"
        assert attempts["sums/s000"]["reasoning_source"] == "reasoning_field"
        assert (attempts["sums/s000"]["retries"], attempts["sums/s001"]["retries"]) == (1, 2)
        critic_retries = store.scalar(
            "SELECT retries FROM verdicts WHERE judge = 'critic' AND problem_id = 'sums/s002'")
        assert critic_retries == 1
        assert attempts["sums/s003"]["prompt_tokens"] == 20 and attempts["sums/s003"]["completion_tokens"] == 10
        statuses = collections.Counter(e.status for e in server.log)
        assert statuses == {200: 9, 429: 1, 500: 2}  # 8 answers + 1 empty 200, and the scripted errors
        assert len(server.delivered_keys()) == 9 and len(set(server.delivered_keys())) == 8


def test_an_empty_body_after_all_retries_is_a_failed_attempt(tmp_path):
    path = tmp_path / "s.duckdb"
    seed(path, 1)
    with OpenAIServer(lambda r: Reply(content="") if not is_critic(r) else arithmetic_teacher(r)) as server, \
            Store(path) as store:
        tally = run_in_process(store, server, max_attempts=2)
        assert tally.abstained == 1
        rows = store.query("SELECT attempt, status, answer FROM attempts ORDER BY attempt")
        assert rows == [{"attempt": 1, "status": "empty", "answer": None}, {"attempt": 2, "status": "empty",
                                                                          "answer": None}]
        assert len(server.log) == 2 * (1 + 6)  # each attempt: the first try and 6 retries


def distill_build(db, server, run="kill", concurrency=4):
    # Ctrl-C as at an interactive terminal: a child inherits an ignored SIGINT (a runner started with `&` by a
    # non-interactive shell), and Python then keeps ignoring it, so asyncio.run would never see the interrupt.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from distill.cli import main; sys.argv[0] = 'distill'; main()")
    args = [sys.executable, "-c", code, "build", "--run", run, "--teacher", f"scripted@{server.base_url}",
            "--concurrency", str(concurrency), "--db", str(db)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_interrupt_mid_run_then_resume_repeats_no_call(tmp_path, stop_signal):
    db = tmp_path / "k.duckdb"
    problems = 30
    seed(db, problems)
    with OpenAIServer(arithmetic_teacher, latency_s=0.02) as server:
        server.hold_after(25)  # 25 requests answered, then every later one is held in flight
        first = distill_build(db, server)
        wait_for(lambda: len(server.held) >= 1)
        time.sleep(1.0)  # every delivered reply is stored well within this
        first.send_signal(stop_signal)
        out, _ = first.communicate(timeout=60)
        if stop_signal == signal.SIGINT:
            assert first.returncode == 130, out
            assert "rerun the same command to resume" in out
        else:
            assert first.returncode == -signal.SIGKILL
        held = [e.call_key for e in server.held]
        server.release(abandon_held=True)

        second = distill_build(db, server)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 0, out

    delivered = server.delivered_keys()
    assert all(n == 1 for n in collections.Counter(delivered).values()), "a call was answered twice"
    assert set(held) <= set(delivered), "a call in flight at the interrupt was not made again"
    with Store(db, read_only=True) as store:
        outcomes = store.query("SELECT status, count(*) AS n FROM problem_outcomes GROUP BY status")
        assert outcomes == [{"status": "accepted", "n": problems}]
        assert store.scalar("SELECT count(*) FROM attempts") == problems
        assert store.scalar("SELECT count(*) FROM verdicts") == 2 * problems
        assert store.scalar("SELECT count(*) FROM corpus") == problems
        stored = {r["call_key"] for r in store.query("SELECT call_key FROM attempts")}
        stored |= {r["verdict_key"] for r in store.query("SELECT verdict_key FROM verdicts WHERE judge = 'critic'")}
    assert stored == set(delivered)
    assert len(server.log) == len(delivered) + len(held)
