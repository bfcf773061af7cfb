"""Write a folder whole or not at all: build it beside its target, then swap it in."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """Yields an empty staging folder beside `out_dir`; on a clean exit its files are made world-readable (mkdtemp
    and safetensors create owner-only files) and it replaces `out_dir`; on any error it is removed."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        yield staging
        for item in staging.iterdir():
            item.chmod(0o644)
        staging.chmod(0o755)
        replace_path(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_path(new: Path, target: Path) -> None:
    """Put `new` (a file or folder) at `target`; an old `target` is moved aside first, never half-replaced."""
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.replace(target, old / "previous")
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
