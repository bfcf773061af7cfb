"""The local server's life cycle (start, wait until it answers, stop it and its children) with a stand-in
process in place of llama.cpp; the real server is exercised in test_real_models.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import distill.models.llama_server as llama_server
import pytest
from distill.models.llama_server import LlamaServerError, local_server, server_command

FAKE_SERVER = """
import http.server, json, subprocess, sys, time
port = int(sys.argv[sys.argv.index("--port") + 1])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(str(child.pid))
delay = float(sys.argv[2])
time.sleep(delay)
print("fake server listening", flush=True)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "fake"}]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@pytest.fixture
def fake_llama(tmp_path, monkeypatch):
    """Replace llama.cpp's server by FAKE_SERVER (which also starts a child); returns (gguf, child pid file)."""
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    pid_file = tmp_path / "child.pid"
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(llama_server, "llama_cpp_missing", lambda: [])

    def use(delay: float = 0.0, command: list[str] | None = None):
        monkeypatch.setattr(llama_server, "server_command", lambda g, port, alias, n_ctx, threads: command or [
            sys.executable, str(script), str(pid_file), str(delay), "--port", str(port)])
        return gguf, pid_file

    return use


def gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":  # exited; only waiting for its parent to reap it
            return True
        time.sleep(0.05)
    return False


def test_serves_then_stops_the_process_and_its_children(fake_llama):
    gguf, pid_file = fake_llama(delay=0.5)
    with local_server(gguf) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.model == "tiny"
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=5) as response:
            assert json.loads(response.read())["data"][0]["id"] == "fake"
        child = int(pid_file.read_text())
        assert not gone(server.pid, 0.1) and not gone(child, 0.1)
        log_path = server.log_path
    assert gone(server.pid) and gone(child)
    assert not log_path.exists()


def test_stops_on_an_exception_in_the_block(fake_llama):
    gguf, pid_file = fake_llama()
    with pytest.raises(RuntimeError, match="caller failed"), local_server(gguf) as server:
        raise RuntimeError("caller failed")
    assert gone(server.pid) and gone(int(pid_file.read_text()))


def test_a_server_that_exits_reports_its_output(fake_llama):
    gguf, _ = fake_llama(command=[sys.executable, "-c", "print('error loading model: bad magic'); raise SystemExit(3)"])
    with pytest.raises(LlamaServerError, match=r"(?s)exited with code 3 before answering:.*bad magic"), \
            local_server(gguf):
        pass


def test_a_server_that_never_answers_is_stopped(fake_llama):
    gguf, pid_file = fake_llama(delay=60)
    start = time.monotonic()
    with pytest.raises(LlamaServerError, match="did not answer .* within 2 s"), \
            local_server(gguf, startup_timeout_s=2):
        pass
    assert time.monotonic() - start < 20
    assert gone(int(pid_file.read_text()))


def test_a_busy_port_is_refused(fake_llama):
    gguf, _ = fake_llama()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LlamaServerError, match=f"port {port} on 127.0.0.1 is already in use"), \
                local_server(gguf, port=port):
            pass


def test_missing_llama_cpp_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(llama_server, "llama_cpp_missing", lambda: ["llama_cpp", "uvicorn"])
    with pytest.raises(LlamaServerError, match=r"missing: llama_cpp, uvicorn\): run `distill models setup`"), \
            local_server(tmp_path / "x.gguf"):
        pass


def test_the_real_command_line(tmp_path):
    command = server_command(tmp_path / "m.gguf", 8123, "teacher", 4096, None)
    assert command[1:3] == ["-m", "llama_cpp.server"]
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags == {"--model": str(tmp_path / "m.gguf"), "--model_alias": "teacher", "--host": "127.0.0.1",
                     "--port": "8123", "--n_ctx": "4096", "--n_threads": str(os.cpu_count())}


def test_serve_command_refuses_an_unknown_model(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(llama_server, "llama_cpp_missing", lambda: [])
    result = cli("models", "serve", "--model", "tutor", "--models-dir", tmp_path)
    assert result.exit_code == 2
    assert "'tutor' is neither a known model" in result.output


def test_the_server_dies_with_a_killed_distill(fake_llama, tmp_path):
    """SIGKILL gives distill no chance to clean up: the server must still go (Linux parent-death signal)."""
    gguf, pid_file = fake_llama()
    owner = tmp_path / "owner.py"
    owner.write_text(
        "import sys, time\n"
        "import distill.models.llama_server as s\n"
        "s.llama_cpp_missing = lambda: []\n"
        f"fake = [sys.executable, {str(pid_file.parent / 'fake_server.py')!r}, {str(pid_file)!r}, '0']\n"
        "s.server_command = lambda g, port, alias, n_ctx, threads: [*fake, '--port', str(port)]\n"
        f"with s.local_server({str(gguf)!r}) as server:\n"
        "    print(server.pid, flush=True)\n"
        "    time.sleep(120)\n"
    )
    owner_process = subprocess.Popen([sys.executable, str(owner)], stdout=subprocess.PIPE, text=True)
    server_pid = int(owner_process.stdout.readline())
    assert not gone(server_pid, 0.1)
    owner_process.kill()
    owner_process.wait()
    assert gone(server_pid)
