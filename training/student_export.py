"""`export_student`: the kept adapter of one training run as something other tools load, recorded in the store.

    mlx    the adapter fused into its base: an MLX folder (`mlx_lm.load(OUT)`, `mlx_lm.server --model OUT`)
    gguf   the fused model as one GGUF file (llama.cpp, Ollama, LM Studio); llama and qwen2; f16 or f32
    peft   the adapter alone as a PEFT folder (`PeftModel.from_pretrained`, vLLM `--lora-modules`)

The adapter is the one the `adapters` view names for (run, level, split seed, seed): the best-validation one.
Each export writes a `student_exports` row: the training run, the adapter's sha256, format, path, the files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.models.gguf_to_mlx import file_sha256
from distill.models.lora_fuse import (
    ADAPTER_WEIGHTS,
    StudentExportError,
    check_target,
    fuse_adapter,
    read_adapter_config,
    write_mlx_folder,
)
from distill.store import Store
from distill.store import training as db
from distill.store.rows_training import StudentExportRow
from distill.store.student_exports import record_student_export

FORMATS = ("mlx", "gguf", "peft")
Log = Callable[[str], None]


@dataclass
class StudentExport:
    student_export_id: int
    format: str
    path: Path
    adapter_sha256: str
    best_iteration: int | None
    training_status: str
    details: dict[str, Any]
    seconds: float


def kept_adapter(store: Store, run_name: str, level: str, seed: int, split_seed: int = 0) -> dict[str, Any]:
    """The `adapters` row of (run, level, split seed, seed), or a clear error naming what exists."""
    row = db.find_adapter(store, run_name, level, seed, split_seed)
    if row is not None:
        return row
    known = store.query("SELECT level, split_seed, seed, status FROM training_runs WHERE run_name = ? "
                        "ORDER BY level, split_seed, seed", [run_name])
    if not known:
        raise StudentExportError(f"run {run_name!r} has no training runs: `distill train --run {run_name}` first")
    listed = ", ".join(f"{r['level']} split {r['split_seed']} seed {r['seed']} ({r['status']})" for r in known)
    raise StudentExportError(f"run {run_name!r} has no kept adapter for {level} split seed {split_seed} seed {seed} "
                             f"(its training runs: {listed})")


def export_student(store: Store, run_name: str, level: str, seed: int, fmt: str, out: Path | str, *,
                   split_seed: int = 0, dtype: str = "f16", base_model_name: str | None = None,
                   overwrite: bool = False, log: Log = print) -> StudentExport:
    """Export the kept adapter of (run, level, split seed, seed) as `fmt` at `out`, and record it."""
    from distill.models.mlx_to_gguf import DTYPES

    if fmt not in FORMATS:
        raise StudentExportError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    if fmt == "gguf" and dtype not in DTYPES:
        raise StudentExportError(f"dtype {dtype!r}: one of {', '.join(DTYPES)}")
    out = Path(out).expanduser().resolve()
    check_target(out, overwrite)
    row = kept_adapter(store, run_name, level, seed, split_seed)
    adapter_dir, base_dir = Path(row["adapter_dir"]), Path(row["model"])
    adapter_config = read_adapter_config(adapter_dir)
    if not (base_dir / "config.json").is_file():
        raise StudentExportError(f"the base model {base_dir} of training run {row['training_id']} is gone (no "
                                 "config.json)")
    sha = file_sha256(adapter_dir / ADAPTER_WEIGHTS)
    if row["status"] not in ("finished", "early_stopped"):
        log(f"note: training run {row['training_id']} is {row['status']}; exporting its best adapter so far "
            f"(iteration {row['best_iteration']})")
    started = time.perf_counter()
    provenance = {"run_name": run_name, "level": level, "split_seed": split_seed, "seed": seed,
                  "training_id": row["training_id"], "adapter_sha256": sha, "best_iteration": row["best_iteration"],
                  "base_model": str(base_dir)}
    base_config = json.loads((base_dir / "config.json").read_text())
    if fmt == "peft":
        from distill.models.peft_adapter import write_peft_folder

        adapter = write_peft_folder(adapter_dir, out, base_model=base_model_name or str(base_dir),
                                    num_hidden_layers=base_config.get("num_hidden_layers"), overwrite=overwrite)
        details = {key: adapter.config[key] for key in ("r", "lora_alpha", "target_modules", "layers_to_transform",
                                                         "base_model_name_or_path")}
        used_dtype = None
    else:
        if fmt == "gguf":  # refuse before the (slow) fuse what cannot be written as GGUF
            from distill.models.mlx_to_gguf import GGUF_ARCHITECTURES, source_gguf_for, write_gguf

            if base_config.get("model_type") not in GGUF_ARCHITECTURES:
                raise StudentExportError(f"{base_dir} is a {base_config.get('model_type')!r} model; GGUF export "
                                         f"supports {', '.join(GGUF_ARCHITECTURES)}")
            source = source_gguf_for(base_dir)
        log(f"fusing {adapter_dir} into {base_dir}")
        fused = fuse_adapter(base_dir, adapter_dir)
        details = {"fused_modules": len(fused.fused_modules), "lora_parameters": adapter_config["lora_parameters"]}
        if fmt == "mlx":
            write_mlx_folder(fused, out, {**provenance, "format": "mlx"}, overwrite=overwrite)
            used_dtype = "f32"
        else:
            metadata = {f"distill.export.{key}": str(value) for key, value in provenance.items()}
            log(f"writing {dtype} GGUF with the metadata of {source}")
            write_gguf(fused.weights, fused.config, source, out, dtype=dtype, metadata=metadata, overwrite=overwrite)
            details["source_gguf"] = str(source)
            used_dtype = dtype
    seconds = time.perf_counter() - started
    export_id = record_student_export(store, StudentExportRow(
        training_id=row["training_id"], run_name=run_name, level=level, split_seed=split_seed,
        seed=seed, format=fmt, dtype=used_dtype, path=str(out), base_model=str(base_dir),
        adapter_dir=str(adapter_dir), adapter_sha256=sha, best_iteration=row["best_iteration"],
        training_status=row["status"], files=written_files(out), details=details, seconds=seconds))
    return StudentExport(export_id, fmt, out, sha, row["best_iteration"], row["status"], details, seconds)


def written_files(path: Path) -> dict[str, dict[str, Any]]:
    """`{name: {sha256, bytes}}` of a written file, or of each file in a written folder."""
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    return {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size} for p in files}
