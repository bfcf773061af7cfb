"""A thin HTTP client of the service (`distill jobs ...`, and `distill sql` etc. while a service holds the store):
found through the address file beside the store, authenticated with $DISTILL_TOKEN when the service asks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from distill.service.address import ServiceAddress, read_address


class ServiceUnavailable(RuntimeError):
    """No service holds the store, or it does not answer; the message says which."""


class ServiceRefused(RuntimeError):
    """The service answered with an error (a bad config, an unknown job, a refused query)."""


class ServiceClient:
    def __init__(self, address: ServiceAddress, token: str | None = None, timeout_s: float = 60.0):
        self.address = address
        token = token if token is not None else os.environ.get("DISTILL_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=address.url, headers=headers, timeout=timeout_s, trust_env=False)

    @classmethod
    def for_store(cls, db: str | Path) -> ServiceClient | None:
        """The client of the service holding `db`, or None when none does."""
        address = read_address(db)
        return cls(address) if address is not None else None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the distill service at {self.address.url} does not answer: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            if not isinstance(detail, str):  # FastAPI's own 422: a list of {loc, msg}
                detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}" for d in detail)
            raise ServiceRefused(f"{detail} (HTTP {response.status_code})")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/api/health")

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/jobs", json=request)

    def jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._call("GET", "/api/jobs", params={"limit": limit})

    def job(self, job_id: int) -> dict[str, Any]:
        return self._call("GET", f"/api/jobs/{job_id}")

    def cancel(self, job_id: int) -> dict[str, Any]:
        return self._call("POST", f"/api/jobs/{job_id}/cancel")

    def sql(self, sql: str, max_rows: int = 10_000) -> dict[str, Any]:
        return self._call("POST", "/api/sql", json={"sql": sql, "max_rows": max_rows})

    def events(self, job_id: int) -> Iterator[dict[str, Any]]:
        """The job's snapshots as the service streams them, until it ends."""
        try:
            with self._http.stream("GET", f"/api/jobs/{job_id}/events", timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ServiceRefused(f"{response.json().get('detail')} (HTTP {response.status_code})")
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        yield json.loads(line[5:].strip())
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the distill service at {self.address.url} stopped answering: {exc}") from exc

    def close(self) -> None:
        self._http.close()
