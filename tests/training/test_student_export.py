"""`export_student` and `distill student export|exports` on a student trained through the product path (the tiny
model): what is written, what the store records, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from distill.models.gguf_to_mlx import file_sha256
from distill.models.lora_fuse import StudentExportError, adapter_tensors
from distill.store import Store
from distill.store import training as db
from distill.store.student_exports import student_exports
from distill.training.student_export import export_student
from distill.training.train import train_level
from safetensors.numpy import load_file

from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems


@pytest.fixture
def trained(toy_run):
    config = toy_run.config(iters=4, steps_per_eval=2, lora={"rank": 4, "scale": 10.0})
    [outcome] = train_level(toy_run.store, toy_run.run, "R1", config, log=lambda line: None)
    assert outcome.status == "finished" and outcome.best_iteration
    return toy_run


def test_peft_and_mlx_exports_are_recorded_with_their_source(trained, tmp_path):
    from distill.models.mlx_runtime import load_mlx, load_mlx_model

    mx = load_mlx()
    store, run = trained.store, trained.run
    kept = db.find_adapter(store, run, "R1", 1)
    sha = file_sha256(trained.tmp / "runs" / run / "adapters" / "R1" / "seed-1" / "adapters.safetensors")

    peft = export_student(store, run, "R1", 1, "peft", tmp_path / "peft", log=lambda line: None)
    tensors = load_file(str(tmp_path / "peft" / "adapter_model.safetensors"))
    mlx = adapter_tensors(kept["adapter_dir"])
    assert len(tensors) == len(mlx) == 2 * 7 * 2  # a, b for every linear of both blocks
    name = "model.layers.1.mlp.up_proj"
    assert np.array_equal(tensors[f"base_model.model.{name}.lora_A.weight"], mlx[f"{name}.lora_a"].T)
    assert json.loads((tmp_path / "peft" / "adapter_config.json").read_text())["lora_alpha"] == 40  # 10 x 4

    fused = export_student(store, run, "R1", 1, "mlx", tmp_path / "fused", log=lambda line: None)
    ids = mx.array([[1, 5, 9, 12, 7, 3]])
    with_adapter, _ = load_mlx_model(kept["model"], kept["adapter_dir"])
    folder, _ = load_mlx_model(tmp_path / "fused")
    np.testing.assert_allclose(np.array(folder(ids)), np.array(with_adapter(ids)), atol=1e-5)

    rows = student_exports(store, run)
    assert [(r["student_export_id"], r["format"], r["dtype"]) for r in rows] == [(peft.student_export_id, "peft", None),
                                                                                (fused.student_export_id, "mlx", "f32")]
    for row in rows:
        assert (row["run_name"], row["level"], row["seed"], row["split_seed"]) == (run, "R1", 1, 0)
        assert row["adapter_sha256"] == sha and row["best_iteration"] == kept["best_iteration"]
        assert row["training_id"] == kept["training_id"] and row["training_status"] == "finished"
        assert row["base_model"] == kept["model"]
    assert rows[0]["files"]["adapter_model.safetensors"]["sha256"] == file_sha256(
        tmp_path / "peft" / "adapter_model.safetensors")
    assert rows[0]["details"]["lora_alpha"] == 40 and rows[0]["details"]["r"] == 4
    assert json.loads((tmp_path / "fused" / "export.json").read_text())["adapter_sha256"] == sha


def test_refusals_name_what_is_wrong(trained, tmp_path):
    store, run = trained.store, trained.run
    with pytest.raises(StudentExportError, match=r"no kept adapter for R1 split seed 0 seed 7 .*R1 split 0 seed 1 "
                                                 r"\(finished\)"):
        export_student(store, run, "R1", 7, "peft", tmp_path / "x")
    with pytest.raises(StudentExportError, match="has no training runs"):
        export_student(store, "other-run", "R1", 1, "peft", tmp_path / "x")
    with pytest.raises(StudentExportError, match="no conversion.json"):  # the tiny base was not converted from GGUF
        export_student(store, run, "R1", 1, "gguf", tmp_path / "s.gguf", log=lambda line: None)
    assert not (tmp_path / "s.gguf").exists()
    (tmp_path / "taken").mkdir()
    with pytest.raises(StudentExportError, match="already exists"):
        export_student(store, run, "R1", 1, "mlx", tmp_path / "taken")
    with pytest.raises(StudentExportError, match="format 'onnx'"):
        export_student(store, run, "R1", 1, "onnx", tmp_path / "y")
    assert student_exports(store) == []


def test_student_export_command(cli, tmp_path, tiny_model_dir):
    problems = arithmetic_problems(30)
    with Store(tmp_path / "cli.duckdb") as store:
        ingest_problems(store, tmp_path, problems)
        add_corpus(store, "cli-run", problems)
    config = tmp_path / "train.toml"
    config.write_text(f'[train]\nmodel = "{tiny_model_dir}"\nsteps_per_report = 1\nsteps_per_eval = 2\n'
                      "learning_rate = 1e-3\n[train.lora]\nrank = 4\n")
    assert cli("train", "--run", "cli-run", "--seeds", "2", "--iters", "2", "--config", config,
               "--out", tmp_path / "runs").exit_code == 0
    result = cli("student", "export", "cli-run", tmp_path / "peft", "--to", "peft", "--seed", "2",
                 "--base-model-name", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert result.exit_code == 0, result.output
    assert "student export 1: cli-run R1 seed 2" in result.output and "as peft" in result.output
    config_file = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert config_file["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    result = cli("student", "export", "cli-run", tmp_path / "peft", "--to", "peft", "--seed", "2")
    assert result.exit_code == 2 and "already exists (pass --overwrite" in one_line(result.output)
    assert "Traceback" not in result.output
    result = cli("student", "export", "cli-run", tmp_path / "s.gguf", "--to", "gguf", "--seed", "2")
    assert result.exit_code == 2 and "student export failed" in result.output
    assert "has no conversion.json" in one_line(result.output)
    result = cli("student", "exports", "--format", "json")
    assert [(r["student_export_id"], r["format"], r["seed"]) for r in json.loads(result.output)] == [(1, "peft", 2)]
    result = cli("student", "export", "cli-run", tmp_path / "p2", "--to", "peft", "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 2 and "no store at" in one_line(result.output)


def one_line(text: str) -> str:
    """The output with the console's line wrapping undone."""
    return " ".join(text.split())
