"""Fixtures for the training tests: a store with a toy corpus run, a tiny random MLX model for it, OpenBLAS on
one thread (a tiny model gains nothing from threads, and a busy 2-core machine makes them spin), and the
default student (skipped, with the reason, only when it cannot be installed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from distill.store import Store
from distill.training.config import TrainConfig

from tests.support.blas import single_thread_blas  # noqa: F401  (autouse)
from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems, tiny_model_for


@dataclass
class ToyRun:
    store: Store
    tmp: Path
    problems: list[dict[str, Any]]
    model: Path
    run: str = "toy-run"

    def config(self, **values: Any) -> TrainConfig:
        defaults = {"model": str(self.model), "seeds": [1], "iters": 20, "steps_per_report": 1, "steps_per_eval": 5,
                    "learning_rate": 1e-3, "patience": None, "out_dir": self.tmp / "runs"}
        return TrainConfig(**{**defaults, **values})


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problems = arithmetic_problems(60)
    extra = [{"question": "", "reasoning": "so the result is yes no", "answer": ""}]
    return tiny_model_for(tmp_path_factory.mktemp("tiny") / "model", problems + extra)


@pytest.fixture
def toy_run(store: Store, tmp_path: Path, tiny_model_dir: Path) -> ToyRun:
    """60 arithmetic problems (source 'toy', three sections); the corpus run accepted all but q001 and q002."""
    problems = arithmetic_problems(60)
    ingest_problems(store, tmp_path, problems)
    add_corpus(store, "toy-run", problems, abstain={"q001", "q002"})
    return ToyRun(store, tmp_path, problems, tiny_model_dir)


@pytest.fixture(scope="session")
def default_student() -> Path:
    from distill.models.gguf_to_mlx import ConversionError
    from distill.models.install import InstallError, setup_models
    from distill.models.registry import UnknownModelError, resolve_mlx_dir

    try:
        return resolve_mlx_dir("student")
    except UnknownModelError:
        pass
    try:
        setup_models(names=["student"], serve=False, log=lambda line: print(f"[distill models setup] {line}"))
        return resolve_mlx_dir("student")
    except (InstallError, ConversionError, UnknownModelError, OSError) as exc:
        pytest.skip(f"the default student could not be installed: {exc}")
