"""Starting and stopping the service: refuse what is unsafe or taken, hold the store, write the address file,
serve with uvicorn until SIGINT/SIGTERM, then stop the running job (left queued: the next start resumes it)."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn
from distill.service.address import ServiceAddress, read_address, remove_address, write_address
from distill.service.api import ServiceState, create_app
from distill.service.jobs import JobManager
from distill.store import Store, StoreError
from distill.store.sql_guard import READ_ONLY_CONFIG

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ServiceError(RuntimeError):
    """The service cannot start as asked; the message says why and what to do."""


def check_host(host: str, token: str | None) -> None:
    if host not in LOCAL_HOSTS and not token:
        raise ServiceError(f"--host {host} lets other machines reach the store: set DISTILL_TOKEN (a secret "
                           "clients send as `Authorization: Bearer ...`) or bind 127.0.0.1")


def open_service_store(db: Path) -> Store:
    """The store, writable, with no file, network or extension access from SQL (user queries run on it)."""
    holder = read_address(db)
    if holder is not None:
        raise ServiceError(f"a distill service (pid {holder.pid}, {holder.url}) already holds {db}: use it "
                           "(`distill jobs ...`, the dashboard) or stop it first")
    try:
        return Store(db, config=READ_ONLY_CONFIG)
    except StoreError as exc:
        raise ServiceError(str(exc)) from exc


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(db: Path, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          say: Callable[[str], None] = print) -> None:
    check_host(host, token)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # now: clients that read the address file may connect before uvicorn has started
    except OSError as exc:
        sock.close()
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    store = open_service_store(db)
    jobs = JobManager(store)
    try:
        bound = sock.getsockname()[1]
        url = f"http://{'[' + host + ']' if ':' in host else host}:{bound}"
        address = ServiceAddress(url=url, pid=os.getpid(), db=str(db.resolve()), token_required=token is not None)
        write_address(db, address)
        resumed = jobs.start()
        say(f"distill service on {url} holding {db} (dashboard: {url}/)")
        if resumed:
            say(f"resuming job(s) {', '.join(map(str, resumed))} left unfinished by the last service")
        server = uvicorn.Server(uvicorn.Config(create_app(ServiceState(store, jobs, token)), log_level="warning",
                                               timeout_graceful_shutdown=5))
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again with the handler it found:
        # make SIGTERM's an exit (not the default instant death), so that the clean-up below runs.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        server.run(sockets=[sock])
    finally:
        say("stopping: the running job, if any, is left queued and resumes on the next start")
        jobs.stop()
        remove_address(db, os.getpid())
        store.close()
        sock.close()
