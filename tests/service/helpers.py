"""A real `distill serve` process on a temporary store, found through its address file, for the service tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from distill.service.address import ServiceAddress, address_path
from distill.service.client import ServiceClient
from distill.store import Store
from distill.store.ingest import ingest

from tests.support.openai_server import ADD, arithmetic_teacher  # noqa: F401 (the service tests' teacher)
from tests.support.waiting import wait_for  # noqa: F401 (the service tests' waiting)


def seed_sums(db: Path, n: int) -> None:
    problems = db.parent / "sums.jsonl"
    problems.write_text("".join(json.dumps({"id": f"s{i:03d}", "question": f"What is {i} plus {i + 1}?",
                                            "answer": str(2 * i + 1), "section": "sums" if i % 2 else "more sums"})
                                + "\n" for i in range(n)))
    with Store(db) as store:
        ingest(store, problems, "jsonl", source="sums")


def corpus_job(base_url: str, run: str = "svc", concurrency: int = 4, **extra) -> dict:
    return {"kind": "corpus", "run": run, "config": {
        "teacher": {"base_url": base_url, "model": "scripted", "max_retries": 2},
        "pacing": {"concurrency": concurrency}, **extra}}


def distill(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("distill")), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


def client_of(service: Service) -> ServiceClient:
    return ServiceClient(ServiceAddress(url=service.url, pid=service.process.pid, db=str(service.db)))


class Service:
    """`with Service(db) as service:` a `distill serve --port 0` subprocess; `service.url` once it listens."""

    def __init__(self, db: Path, *args: str, env: dict | None = None):
        self.db, self.args, self.env = db, args, env
        self.process: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self, timeout: float = 60) -> Service:
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("distill")), "serve", "--db", str(self.db), "--port", "0",
             *self.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "COLUMNS": "200", **(self.env or {})})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"distill serve exited: {self.process.stdout.read()}")
            try:
                found = json.loads(address_path(self.db).read_text())
            except (OSError, ValueError):
                found = None
            if found and found["pid"] == self.process.pid:
                self.url = found["url"]
                return self
            time.sleep(0.1)
        raise AssertionError("distill serve did not start")

    def __enter__(self) -> Service:
        return self.start()

    def stop(self) -> str:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.stdout.read() if self.process else ""

    def __exit__(self, *exc: object) -> None:
        self.stop()
