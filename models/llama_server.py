"""A local OpenAI-compatible server for a GGUF model: llama.cpp's (`python -m llama_cpp.server`) on 127.0.0.1.

    with local_server("teacher") as server:          # or "student", or a path to a .gguf file
        client = OpenAI(base_url=server.base_url, api_key="local")
        client.chat.completions.create(model=server.model, messages=[...])

`local_server` picks a free port (unless given one), starts the server in its own process group, waits until
`/v1/models` answers, and on exit stops the process and its children (SIGTERM, then SIGKILL). On Linux the
server also dies with the thread that started it, so a killed `distill` leaves no server behind; enter and
leave the block in the same thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distill.models.install import llama_cpp_missing
from distill.models.registry import KNOWN_MODELS, resolve_gguf

HOST = "127.0.0.1"
DEFAULT_CONTEXT = 4096
# The server is started through this shim, which asks Linux to SIGTERM it when distill dies (even by SIGKILL),
# then execs the real command in the same process: no orphaned server keeps the cores busy after a crash.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform == 'linux':\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "    if os.getppid() != int(sys.argv[1]):\n"
    "        sys.exit('distill exited before its server started')\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class LlamaServerError(RuntimeError):
    """The server could not start (missing package, port in use, bad model file); the message says which."""


@dataclass(frozen=True)
class LocalServer:
    """A running server: point any OpenAI-compatible client at `base_url` and ask for `model`."""

    base_url: str  # e.g. http://127.0.0.1:8080/v1
    model: str  # the name the server answers to: "teacher", "student" (the model's name) or the GGUF file's stem
    port: int
    pid: int
    gguf: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False, compare=False)

    def alive(self) -> bool:
        return self.process.poll() is None


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def server_command(gguf: Path, port: int, alias: str, n_ctx: int = DEFAULT_CONTEXT,
                   threads: int | None = None) -> list[str]:
    """The llama.cpp server command line (llama-cpp-python uses half the cores by default; we use all)."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
            "--host", HOST, "--port", str(port), "--n_ctx", str(n_ctx),
            "--n_threads", str(threads or os.cpu_count() or 1)]


def _answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return response.status == 200 and "data" in json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def stop_process_group(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the process's group (it was started in its own session), then SIGKILL what is left."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def local_server(model: str | Path = "teacher", *, port: int | None = None, n_ctx: int = DEFAULT_CONTEXT,
                 threads: int | None = None, models_dir: Path | None = None, log_file: Path | None = None,
                 startup_timeout_s: float = 180.0) -> Iterator[LocalServer]:
    """Serve `model` ("teacher", "student" or a .gguf path) on 127.0.0.1 for the duration of the block.

    The server's output goes to `log_file` (kept), else to a temporary file removed on exit.
    """
    missing = llama_cpp_missing()
    if missing:
        raise LlamaServerError(f"llama.cpp's server is not installed (missing: {', '.join(missing)}): "
                               "run `distill models setup` or pip install 'distill[serve]'")
    gguf = resolve_gguf(model, models_dir)
    alias = str(model) if str(model) in KNOWN_MODELS else gguf.stem
    if port is None:
        port = free_port()
    elif port_in_use(port):
        raise LlamaServerError(f"port {port} on {HOST} is already in use (choose another with --port)")
    base_url = f"http://{HOST}:{port}/v1"
    if log_file is None:
        log_fd, log_name = tempfile.mkstemp(prefix=f"distill-llama-{alias}-", suffix=".log")
        os.close(log_fd)
    log_path = Path(log_file or log_name)
    with open(log_path, "wb") as log:
        command = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()),
                   *server_command(gguf, port, alias, n_ctx, threads)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _answers(base_url):
            if process.poll() is not None:
                raise LlamaServerError(f"llama.cpp's server for {gguf} exited with code {process.returncode} "
                                       f"before answering:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise LlamaServerError(f"llama.cpp's server for {gguf} did not answer on {base_url} within "
                                       f"{startup_timeout_s:.0f} s:\n{_log_tail(log_path)}")
            time.sleep(0.25)
        yield LocalServer(base_url, alias, port, process.pid, gguf, log_path, process)
    finally:
        stop_process_group(process)
        if log_file is None:
            log_path.unlink(missing_ok=True)


def serve_until_interrupted(server: LocalServer) -> None:
    """Block until Ctrl-C or SIGTERM (both leave through the caller's `with local_server(...)`)."""

    def terminate(signum, frame):  # SIGTERM leaves the same clean way as Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        while server.alive():
            time.sleep(0.5)
        raise LlamaServerError(f"llama.cpp's server (pid {server.pid}) stopped by itself with code "
                               f"{server.process.returncode}:\n{_log_tail(server.log_path)}")
    finally:
        signal.signal(signal.SIGTERM, previous)
