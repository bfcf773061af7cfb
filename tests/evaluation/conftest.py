"""Fixtures for the evaluation tests: a toy corpus run with its split (the training fakes), a tiny random MLX model
for it, OpenBLAS on one thread (a tiny model gains nothing from threads on a busy 2-core machine), and the
default models for the `real_models` tests (skipped, with the reason, only when they cannot be installed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from distill.store import Store
from distill.training.splits import make_split

from tests.models.conftest import llama_cpp, real_models  # noqa: F401  (fixtures shared with the models tests)
from tests.support.blas import single_thread_blas  # noqa: F401  (autouse)
from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems, tiny_model_for

RUN = "toy-run"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    extra = [{"question": "", "reasoning": "so the result is yes no", "answer": ""}]
    return tiny_model_for(tmp_path_factory.mktemp("tiny") / "model", arithmetic_problems(60) + extra)


@dataclass
class ToyEval:
    store: Store
    tmp: Path
    problems: list[dict[str, Any]]
    model: Path
    run: str = RUN

    def test_ids(self) -> list[str]:
        rows = self.store.query("SELECT problem_id FROM test_problems WHERE run_name = ? AND representative "
                                "ORDER BY problem_id", [self.run])
        return [r["problem_id"] for r in rows]

    def gold(self, problem_id: str) -> str:
        return self.store.scalar("SELECT answer FROM problems WHERE problem_id = ?", [problem_id])


@pytest.fixture
def toy_eval(store: Store, tmp_path: Path, tiny_model_dir: Path) -> ToyEval:
    """60 arithmetic problems (source 'toy', three sections), a corpus run that accepted all but q001 and q002,
    and its split (seed 0: 6 test problems)."""
    problems = arithmetic_problems(60)
    ingest_problems(store, tmp_path, problems)
    add_corpus(store, RUN, problems, abstain={"q001", "q002"})
    make_split(store, RUN, 0)
    return ToyEval(store, tmp_path, problems, tiny_model_dir)
