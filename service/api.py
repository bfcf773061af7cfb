"""The service's HTTP API (JSON under /api) and its guard: a token on every request when one is set, no CORS.

    GET  /api/health                  the store it holds and its process
    POST /api/jobs                    submit a study or a stage (422 names the table and the key)
    GET  /api/jobs                    jobs, newest first, with live progress
    GET  /api/jobs/{id}               one job (404 if unknown)
    GET  /api/jobs/{id}/events        its progress as server-sent events until it ends
    POST /api/jobs/{id}/cancel        stop it; everything finished stays stored (409 if it has ended)
    POST /api/sql                     read-only SQL (SELECT / EXPLAIN only; rows and time bounded)
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.service.job_kinds import JobRequest, validate_job
from distill.service.jobs import JobFinished, JobManager, JobNotFound
from distill.service.sql import MAX_ROWS, TIMEOUT_S, guarded_query
from distill.store import Store, StoreError
from distill.store.jobs import FINAL
from distill.store.queries import plain
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field

from distill.config_files import ConfigError

TOKEN_COOKIE = "distill_token"


@dataclass
class ServiceState:
    store: Store
    jobs: JobManager
    token: str | None = None


class SqlRequest(BaseModel):
    sql: str = Field(min_length=1)
    max_rows: int = Field(1000, ge=1, le=MAX_ROWS)
    timeout_s: float = Field(TIMEOUT_S, gt=0, le=TIMEOUT_S)


def create_app(state: ServiceState) -> FastAPI:
    from distill.service.pages import register_pages

    app = FastAPI(title="distill", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.state.service = state

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if state.token is not None and not _has_token(request, state.token):
            return JSONResponse({"detail": "a token is required: header `Authorization: Bearer $DISTILL_TOKEN`, "
                                           "or open the dashboard once with ?token=..."}, status_code=401)
        response = await call_next(request)
        if state.token is not None and request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, state.token, httponly=True, samesite="strict")
        return response

    for kind, status in ((ConfigError, 422), (JobNotFound, 404), (JobFinished, 409), (StoreError, 400)):
        app.add_exception_handler(kind, _answer_with(status))

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "db": str(state.store.path), "pid": os.getpid()}

    @app.post("/api/jobs", status_code=201)
    def submit(request: JobRequest) -> dict[str, Any]:
        job = validate_job(request, str(Path(state.store.path).resolve()))
        return _public(state.jobs.get(state.jobs.submit(job)))

    @app.get("/api/jobs")
    def list_jobs(limit: int = 100) -> list[dict[str, Any]]:
        return [_public(j) for j in state.jobs.list(limit)]

    @app.get("/api/jobs/{job_id}")
    def get_job(job_id: int) -> dict[str, Any]:
        return _public(state.jobs.get(job_id))

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: int) -> dict[str, Any]:
        return _public(state.jobs.cancel(job_id))

    @app.get("/api/jobs/{job_id}/events", response_class=EventSourceResponse)
    async def job_events(job_id: int) -> AsyncIterator[ServerSentEvent]:
        job = await asyncio.to_thread(state.jobs.get, job_id)
        seen = None
        while True:
            version = (job["status"], state.jobs.version(job_id), job["progress"])
            if version != seen:
                seen = version
                yield ServerSentEvent(data=_public(job), event="job", id=str(version[1]))
            if job["status"] in FINAL:
                return
            await asyncio.sleep(0.5)
            job = await asyncio.to_thread(state.jobs.get, job_id)

    @app.post("/api/sql")
    def sql(request: SqlRequest) -> dict[str, Any]:
        return guarded_query(state.store, request.sql, request.max_rows, request.timeout_s)

    register_pages(app, state)
    return app


def _answer_with(status: int):
    """An exception handler: the error's message as `detail`, with this HTTP status."""
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)
    return handler


def _has_token(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or \
        request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
    return hmac.compare_digest(given.encode(), token.encode())


def _public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it (JSON-safe)."""
    if job.get("stage") is None and job.get("progress"):
        job = {**job, "stage": job["progress"].get("title")}
    return plain(job)

