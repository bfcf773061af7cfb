"""Loaded by every Python process of a distributed test run (PYTHONPATH): on ranks > 0 it records any attempt to
write under DISTILL_GUARDED or to open a DuckDB store, in DISTILL_GUARD_REPORT. Rank 0 is left alone."""

import json
import os
import sys

_rank = os.environ.get("MLX_RANK")
_root = os.environ.get("DISTILL_GUARDED")
_report = os.environ.get("DISTILL_GUARD_REPORT")

if _rank not in (None, "0") and _root and _report:
    _root = os.path.realpath(_root)
    _writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _record(kind: str, detail: str) -> None:
        with open(_report, "a", encoding="utf-8") as handle:  # outside _root: not itself recorded
            handle.write(json.dumps({"rank": _rank, "kind": kind, "detail": detail}) + "\n")

    def _inside(path: object) -> bool:
        try:
            return os.path.realpath(os.fsdecode(path)).startswith(_root)
        except (TypeError, ValueError):
            return False

    def _hook(event: str, args: tuple) -> None:
        if event == "open" and len(args) >= 3 and _inside(args[0]):
            mode, flags = args[1] or "", args[2] or 0
            if any(c in str(mode) for c in "wax+") or flags & _writing:
                _record("write", f"{args[0]} {mode}")
        elif event in ("os.rename", "os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree") and args and \
                any(_inside(a) for a in args[:2] if isinstance(a, str | bytes | os.PathLike)):
            _record(event, str(args[:2]))

    sys.addaudithook(_hook)

    import duckdb

    _connect = duckdb.connect

    def _guarded_connect(*args, **kwargs):
        _record("duckdb.connect", str(args[:1]))
        return _connect(*args, **kwargs)

    duckdb.connect = _guarded_connect
    _record("armed", f"pid {os.getpid()}")
