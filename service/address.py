"""Where a running service is: a small JSON file beside the store (runs/demo.duckdb -> runs/demo.service.json)
with its URL and process id, so that clients find it. Written when the service starts, removed when it stops; one
left by a killed service is stale and ignored (its process is gone)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceAddress:
    url: str
    pid: int
    db: str
    token_required: bool = False


def address_path(store_path: str | Path) -> Path:
    path = Path(store_path)
    return path.with_name(f"{path.stem}.service.json")


def write_address(store_path: str | Path, address: ServiceAddress) -> Path:
    target = address_path(store_path)
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(address.__dict__), encoding="utf-8")
    temporary.replace(target)
    return target


def remove_address(store_path: str | Path, pid: int) -> None:
    """Remove the file if it is this process's (a second service must not remove the first one's)."""
    found = read_address(store_path, check_alive=False)
    if found is not None and found.pid == pid:
        address_path(store_path).unlink(missing_ok=True)


def read_address(store_path: str | Path, check_alive: bool = True) -> ServiceAddress | None:
    """The service holding the store, or None (no file, an unreadable one, or its process is gone)."""
    try:
        found = ServiceAddress(**json.loads(address_path(store_path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if check_alive and not _alive(found.pid):
        return None
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
