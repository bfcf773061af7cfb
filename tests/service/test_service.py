"""`distill serve` as a real process: a corpus job against the local test server while `distill sql` reads the
store, a SIGKILL and a restart that resumes the job with exact counts, a cancel, and the refusals."""

from __future__ import annotations

import collections
import signal
import time

import httpx
import pytest
from distill.service.address import ServiceAddress, address_path
from distill.service.client import ServiceClient, ServiceRefused
from distill.store import Store

from tests.service.helpers import (
    Service,
    arithmetic_teacher,
    client_of,
    corpus_job,
    distill,
    seed_sums,
    wait_for,
)
from tests.support.openai_server import OpenAIServer


def test_sql_answers_while_a_job_writes_and_the_cli_goes_through_the_service(tmp_path):
    db = tmp_path / "s.duckdb"
    seed_sums(db, 40)
    config = tmp_path / "corpus.toml"
    with OpenAIServer(arithmetic_teacher, latency_s=0.05) as server, Service(db) as service:
        server.hold_after(30)  # the job stays mid-run (15 problems done, two calls held) while the CLI reads
        config.write_text(f'[corpus]\nmax_attempts = 2\n[corpus.teacher]\nbase_url = "{server.base_url}"\n'
                          f'model = "scripted"\n[corpus.pacing]\nconcurrency = 2\n')
        submitted = distill("jobs", "submit", "--config", str(config), "--stage", "corpus", "--run", "live",
                            "--db", str(db))
        assert submitted.returncode == 0, submitted.stderr
        assert "job 1 queued: corpus live" in submitted.stdout
        client = client_of(service)
        wait_for(lambda: (client.job(1)["progress"] or {}).get("done", 0) >= 3)
        read = distill("sql", "SELECT count(*) AS n FROM attempts", "--db", str(db), "--format", "csv")
        assert read.returncode == 0, read.stderr
        during = int(read.stdout.split()[-1])
        assert 3 <= during < 40 and client.job(1)["status"] == "running", "the read did not happen mid-run"
        assert distill("sql", "SELECT * FROM disagreements", "--db", str(db)).returncode == 0
        assert distill("runs", "--db", str(db)).returncode == 0
        blocked = distill("build", "--run", "other", "--db", str(db))
        assert blocked.returncode == 2
        assert "a distill service" in blocked.stderr and "distill jobs submit" in blocked.stderr
        server.release()
        watched = distill("jobs", "watch", "1", "--db", str(db))
        assert watched.returncode == 0, watched.stderr
        assert "job 1 done" in watched.stdout
        job = client.job(1)
        assert job["progress"]["done"] == 40 and job["progress"]["counts"]["accepted"] == 40
        assert job["result"].startswith("40 of 40 done now")
        listed = distill("jobs", "list", "--db", str(db), "--format", "json")
        assert '"status": "done"' in listed.stdout
    assert not address_path(db).exists(), "the address file outlived the service"
    with Store(db, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM problem_outcomes WHERE run_name = 'live'") == 40


def test_sigkill_then_restart_resumes_the_job_with_no_repeated_call(tmp_path):
    db = tmp_path / "k.duckdb"
    problems = 30
    seed_sums(db, problems)
    with OpenAIServer(arithmetic_teacher, latency_s=0.02) as server:
        server.hold_after(25)
        first = Service(db).start()
        job_id = client_of(first).submit(corpus_job(server.base_url, "kill"))["job_id"]
        wait_for(lambda: len(server.held) >= 1)
        time.sleep(1.0)  # every delivered reply is stored well within this
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
        held = [e.call_key for e in server.held]
        server.release(abandon_held=True)
        assert address_path(db).exists()  # stale: its process is gone, and the restart takes over

        with Service(db) as second:
            client = client_of(second)
            job = wait_for(lambda: (j := client.job(job_id))["status"] in ("done", "failed") and j, timeout=120)
            assert job["status"] == "done", job
            assert job["starts"] == 2
            output = second.stop()
        assert f"resuming job(s) {job_id}" in output

    delivered = server.delivered_keys()
    assert all(n == 1 for n in collections.Counter(delivered).values()), "a call was answered twice"
    assert set(held) <= set(delivered), "a call in flight at the kill was not made again"
    with Store(db, read_only=True) as store:
        assert store.query("SELECT status, count(*) AS n FROM problem_outcomes GROUP BY status") == [
            {"status": "accepted", "n": problems}]
        assert store.scalar("SELECT count(*) FROM attempts") == problems
        assert store.scalar("SELECT count(*) FROM verdicts") == 2 * problems
        stored = {r["call_key"] for r in store.query("SELECT call_key FROM attempts")}
        stored |= {r["verdict_key"] for r in store.query("SELECT verdict_key FROM verdicts WHERE judge = 'critic'")}
    assert stored == set(delivered)


def test_cancel_keeps_what_finished_and_a_resubmit_completes(tmp_path):
    db = tmp_path / "c.duckdb"
    seed_sums(db, 20)
    with OpenAIServer(arithmetic_teacher, latency_s=0.02) as server, Service(db) as service:
        client = client_of(service)
        server.hold_after(16)
        job_id = client.submit(corpus_job(server.base_url, "cut", concurrency=2))["job_id"]
        wait_for(lambda: len(server.held) >= 1)
        time.sleep(0.5)
        cancelled = distill("jobs", "cancel", str(job_id), "--db", str(db))
        assert cancelled.returncode == 0, cancelled.stderr
        job = wait_for(lambda: (j := client.job(job_id))["status"] != "running" and j)
        assert job["status"] == "cancelled" and job["finished_at"] is not None
        server.release(abandon_held=True)
        kept = client.sql("SELECT count(*) AS n FROM problem_outcomes WHERE run_name = 'cut'")["rows"][0][0]
        assert 1 <= kept < 20
        with pytest.raises(ServiceRefused, match="already ended"):
            client.cancel(job_id)
        again = client.submit(corpus_job(server.base_url, "cut", concurrency=2))["job_id"]
        assert wait_for(lambda: client.job(again)["status"] in ("done", "failed"))
        assert client.job(again)["status"] == "done"
        assert client.sql("SELECT count(*) FROM problem_outcomes WHERE run_name = 'cut'")["rows"] == [[20]]
    assert all(n == 1 for n in collections.Counter(server.delivered_keys()).values())


def test_refusals_and_a_job_that_raises(tmp_path, monkeypatch):
    db = tmp_path / "r.duckdb"
    seed_sums(db, 2)
    with Service(db) as service:
        client = client_of(service)
        with pytest.raises(ServiceRefused, match=r"job config: corpus\.max_attempts: .*\(HTTP 422\)"):
            client.submit({"kind": "corpus", "run": "x", "config": {"max_attempts": 0}})
        with pytest.raises(ServiceRefused, match=r"corpus\.colour: Extra inputs"):
            client.submit({"kind": "corpus", "run": "x", "config": {"colour": "red"}})
        with pytest.raises(ServiceRefused, match="needs `run`"):
            client.submit({"kind": "corpus", "config": {}})
        with pytest.raises(ServiceRefused, match="no job 99 .HTTP 404"):
            client.job(99)
        with pytest.raises(ServiceRefused, match="refused: .*read-only.*HTTP 400"):
            client.sql("DELETE FROM problems")
        with pytest.raises(ServiceRefused, match="HTTP 400"):
            client.sql("SELECT * FROM read_csv('/etc/passwd')")
        # a job that fails (its prompt file is missing) is recorded; the service carries on
        bad = client.submit({"kind": "corpus", "run": "bad", "config": {
            "teacher": {"base_url": "http://127.0.0.1:9/v1", "model": "m"},
            "solver_prompt": str(tmp_path / "missing.md")}})["job_id"]
        job = wait_for(lambda: (j := client.job(bad))["status"] in ("done", "failed") and j)
        assert job["status"] == "failed" and "missing.md" in job["error"]
        assert client.health()["status"] == "ok"

        second = distill("serve", "--db", str(db), "--port", "0")
        assert second.returncode == 2
        assert f"already holds {db}" in second.stderr
    exposed = distill("serve", "--db", str(db), "--host", "0.0.0.0", "--port", "0", env={"DISTILL_TOKEN": ""})
    assert exposed.returncode == 2 and "DISTILL_TOKEN" in exposed.stderr


def test_a_token_is_checked_on_every_request(tmp_path):
    db = tmp_path / "t.duckdb"
    seed_sums(db, 1)
    with Service(db, env={"DISTILL_TOKEN": "s3cret"}) as service:
        address = ServiceAddress(url=service.url, pid=service.process.pid, db=str(db))
        with pytest.raises(ServiceRefused, match="HTTP 401"):
            ServiceClient(address, token="wrong").health()
        assert ServiceClient(address, token="s3cret").health()["status"] == "ok"
        assert "s3cret" not in address_path(db).read_text()
        ok = distill("sql", "SELECT 1 AS one", "--db", str(db), env={"DISTILL_TOKEN": "s3cret"})
        assert ok.returncode == 0 and "1" in ok.stdout


def test_a_study_job_runs_the_stages_asked_on_the_service_store(tmp_path):
    db = tmp_path / "st.duckdb"
    seed_sums(db, 20)
    with OpenAIServer(arithmetic_teacher) as server, Service(db) as service:
        client = client_of(service)
        study = {"name": "st", "inputs": [{"path": str(tmp_path / "sums.jsonl"), "format": "jsonl",
                                           "source": "sums"}],
                 "corpus": {"teacher": {"base_url": server.base_url, "model": "scripted"}, "max_attempts": 1}}
        with pytest.raises(ServiceRefused, match="stages .'train2'. are not among"):
            client.submit({"kind": "study", "config": study, "stages": ["train2"]})
        with pytest.raises(ServiceRefused, match=r"db: this service holds"):
            client.submit({"kind": "study", "config": {**study, "db": str(tmp_path / "other.duckdb")}})
        with pytest.raises(ServiceRefused, match=r"job config: inputs.0.format"):
            client.submit({"kind": "study", "config": {**study, "inputs": [{"path": "x", "format": "xml"}]}})
        job_id = client.submit({"kind": "study", "config": study, "stages": ["ingest", "corpus"]})["job_id"]
        job = wait_for(lambda: (j := client.job(job_id))["status"] in ("done", "failed") and j)
        assert job["status"] == "done", job["error"]
        assert "ingest: sums: 0 new, 20 unchanged" in job["result"]
        assert any(line.startswith("== corpus") for line in job["log"])
        built = client.sql("SELECT count(*) FROM problem_outcomes WHERE run_name = 'st'")["rows"][0][0]
        assert built == 18  # two of 20 are held out for test and never sent to the teacher
        assert client.sql("SELECT count(*) FROM training_runs")["rows"] == [[0]]  # stages not asked: not run


def test_api_keys_stay_in_the_environment(tmp_path):
    db = tmp_path / "key.duckdb"
    seed_sums(db, 3)
    secret = "sk-do-not-store-4242"
    with OpenAIServer(arithmetic_teacher) as server, Service(db, env={"DISTILL_TEST_KEY": secret}) as service:
        client = client_of(service)
        job = corpus_job(server.base_url, "keyed")
        job["config"]["teacher"]["api_key_env"] = "DISTILL_TEST_KEY"
        job_id = client.submit(job)["job_id"]
        assert wait_for(lambda: client.job(job_id)["status"] == "done")
        pages = [httpx.get(service.url + path).text for path in ("/", f"/jobs/{job_id}", "/api/jobs", "/runs/keyed",
                                                                  "/problems/keyed/sums/s000")]
        assert all(secret not in page for page in pages)
        assert "DISTILL_TEST_KEY" in pages[1]
        stopped = service.stop()
    assert secret not in stopped
    assert secret.encode() not in db.read_bytes()
    assert all(secret.encode() not in p.read_bytes() for p in tmp_path.glob("key.*") if p.is_file())
