"""The service's jobs: a queue run one job at a time by one worker thread on the service's store (the stages
already use every core, and a study's stages depend on each other). Progress is live in memory and saved to the
jobs table about once a second; a cancel stops the job the way Ctrl-C stops a command; jobs that were queued or
running when the service died are resumed when it starts again."""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from distill.agents.endpoints import EndpointError
from distill.agents.prompts import PromptError
from distill.service.job_kinds import ValidJob, revived, run_job
from distill.store import Store, StoreError
from distill.store import jobs as db

from distill.cancel import Cancelled, CancelScope, cancellable
from distill.config_files import ConfigError

log = logging.getLogger(__name__)
EXPECTED = (ConfigError, StoreError, EndpointError, PromptError, ValueError, RuntimeError, OSError)
SAVE_EVERY_S = 1.0
LOG_LINES = 400


class JobNotFound(LookupError):
    pass


class JobFinished(RuntimeError):
    """The job has already ended: there is nothing to cancel."""


@dataclass
class Live:
    """A running job's state in memory: its stage, progress, recent log lines and a version that changes with
    each of them (the event stream sends a snapshot when it changes)."""

    job_id: int
    scope: CancelScope = field(default_factory=CancelScope)
    stage: str | None = None
    progress: dict[str, Any] | None = None
    lines: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    version: int = 0
    saved_at: float = 0.0
    started: float = field(default_factory=time.monotonic)


class JobManager:
    def __init__(self, store: Store):
        self.store = store
        self._queue: collections.deque[int] = collections.deque()
        self._wake = threading.Condition()
        self._live: dict[int, Live] = {}
        self._stopping = False
        self._worker = threading.Thread(target=self._work, name="distill-jobs", daemon=True)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> list[int]:
        """Queue the jobs a previous service left queued or running (they resume from the store); start work."""
        resumed = []
        for row in db.unfinished_jobs(self.store):
            db.update_job(self.store, row["job_id"], status="queued")
            self._queue.append(row["job_id"])
            resumed.append(row["job_id"])
        self._worker.start()
        return resumed

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the running job as a cancel would, but leave it queued: the next start resumes it."""
        with self._wake:
            self._stopping = True
            for live in self._live.values():
                live.scope.cancel()
            self._wake.notify_all()
        self._worker.join(timeout_s)

    # -- requests ------------------------------------------------------------------------------------------
    def submit(self, job: ValidJob) -> int:
        job_id = db.add_job(self.store, job.kind, job.run_name, job.record())
        with self._wake:
            self._queue.append(job_id)
            self._wake.notify_all()
        return job_id

    def cancel(self, job_id: int) -> dict[str, Any]:
        row = self.get(job_id)
        with self._wake:
            if row["status"] == "queued" and job_id in self._queue:
                self._queue.remove(job_id)
                db.update_job(self.store, job_id, status="cancelled", finished=True)
            elif job_id in self._live:
                self._live[job_id].scope.cancel()
            elif row["status"] in db.FINAL:
                raise JobFinished(f"job {job_id} has already ended ({row['status']})")
        return self.get(job_id)

    def get(self, job_id: int) -> dict[str, Any]:
        row = db.job(self.store, job_id)
        if row is None:
            raise JobNotFound(f"no job {job_id}")
        return self._with_live(row)

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        return [self._with_live(r) for r in db.jobs(self.store, limit)]

    def version(self, job_id: int) -> int:
        live = self._live.get(job_id)
        return -1 if live is None else live.version

    def _with_live(self, row: dict[str, Any]) -> dict[str, Any]:
        live = self._live.get(row["job_id"])
        if live is not None:
            row = {**row, "stage": live.stage, "progress": live.progress, "cancelling": live.scope.requested}
        if live is not None:
            row["log"] = list(live.lines)
        return row

    # -- the worker ----------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                job_id = self._queue.popleft()
                live = self._live[job_id] = Live(job_id)
            try:
                self._run(live)
            except Exception:  # the service outlives any job, even a bug in how one is run
                log.error("job %s: %s", job_id, traceback.format_exc())
            finally:
                with self._wake:
                    self._live.pop(job_id, None)

    def _run(self, live: Live) -> None:
        row = db.job(self.store, live.job_id)
        live.lines.extend(row["log"])  # a resumed job keeps what it logged before
        db.update_job(self.store, live.job_id, status="running", started=True, starts=row["starts"] + 1, error=None)
        status, result, error = "failed", None, None
        try:
            job = revived(row)
            with cancellable(live.scope):
                result = run_job(self.store, job, self._logger(live), self._progress(live))
            status = "done"
        except (Cancelled, KeyboardInterrupt):
            status = "queued" if self._stopping else "cancelled"
        except EXPECTED as exc:
            error = str(exc)
        except Exception as exc:
            log.error("job %s: %s", live.job_id, traceback.format_exc())
            error = f"internal error: {type(exc).__name__}: {exc}"
        self._save(live, force=True)
        final = {} if status == "queued" else {"finished": True}
        db.update_job(self.store, live.job_id, status=status, result=result, error=error, **final)

    def _logger(self, live: Live) -> Callable[[str], None]:
        def write(line: str) -> None:
            live.lines.append(line)
            live.version += 1
        return write

    def _progress(self, live: Live) -> Callable[[str], contextlib.AbstractContextManager]:
        @contextlib.contextmanager
        def progress(title: str) -> Iterator[Callable[[Any], None]]:
            live.stage, started = title, time.monotonic()
            live.progress = None
            live.version += 1

            def update(tally: Any) -> None:
                live.progress = progress_of(title, tally, time.monotonic() - started)
                live.version += 1
                self._save(live)

            yield update
            self._save(live, force=True)
        return progress

    def _save(self, live: Live, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - live.saved_at >= SAVE_EVERY_S:
            live.saved_at = now
            db.update_job(self.store, live.job_id, stage=live.stage, progress=live.progress,
                          log="\n".join(live.lines) or None)


def progress_of(title: str, tally: Any, seconds: float) -> dict[str, Any]:
    """done/total, outcome counts, tokens, items per second and the ETA of a stage's tally."""
    done_now = tally.done
    rate = done_now / seconds if seconds > 0 else None
    left = max(tally.total - done_now, 0)
    return {"title": title, "done": done_now, "total": tally.total,
            "counts": {o: tally.counts[o] for o in tally.outcomes}, "tokens": tally.tokens,
            "rate_per_s": None if rate is None else round(rate, 3),
            "eta_s": None if not rate else round(left / rate, 1), "seconds": round(seconds, 1)}
