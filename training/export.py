"""Export a split set at one reasoning level to mlx-lm chat JSONL, and record it in the store.

Each line is `agents.student.training_example(question, reasoning, answer)`: the student's system prompt and
question, then the reasoning ending in the answer line; evaluation prompts the student the same way. The text is
the `levels` table's (status 'ok'); until the levels stage has run, level R1 comes from the `corpus` table.

Files: OUT_DIR/<run>/data/split-<seed>/<level>/{train,valid,test}.jsonl. `test.jsonl` holds the test problems
that have text at this level (for test loss); the full held-out set is the `splits` table (`test_problems`).
Before writing, the contamination check runs again (a MATH-500 file may have been ingested since the split);
any overlap refuses the export unless `allow_leaks`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.agents.student import training_example
from distill.store import Store, StoreError
from distill.store import training as db
from distill.store.rows_training import ExportRow
from distill.training.contamination import Leak, leak_summary
from distill.training.splits import DEFAULT, check_contamination, make_split

SPLITS = ("train", "valid", "test")


class ContaminationError(StoreError):
    """Training questions overlap held-out ones; the message lists them."""


@dataclass
class ExportResult:
    export_id: int
    folder: Path
    rows: dict[str, int]
    missing_text: dict[str, int]
    text_source: str
    leaks: list[Leak] = field(default_factory=list)
    reused: bool = False
    created_split: bool = False
    stale: int = 0  # problems with text now that the split set does not train on (re-run `distill split`)

    def path(self, split: str) -> Path:
        return self.folder / f"{split}.jsonl"


def export_folder(out_dir: Path, run_name: str, split_seed: int, level: str) -> Path:
    return Path(out_dir) / run_name / "data" / f"split-{split_seed}" / level


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_level(store: Store, run_name: str, level: str = "R1", split_seed: int = DEFAULT.seed, *,
                 out_dir: Path = Path("runs"), allow_leaks: bool = False, valid: float = DEFAULT.valid,
                 test: float = DEFAULT.test) -> ExportResult:
    """Write train/valid/test JSONL for (run, split seed, level); makes the split set first if there is none
    (with `valid`/`test`). Reuses the latest export record when the files come out identical."""
    created_split = db.split_set(store, run_name, split_seed) is None
    if created_split:
        make_split(store, run_name, split_seed, valid=valid, test=test)
    rows = db.split_rows(store, run_name, split_seed)
    leaks = check_contamination(store, rows)
    db.replace_contamination(store, run_name, split_seed, [leak.__dict__ for leak in leaks])
    if leaks and not allow_leaks:
        raise ContaminationError(f"run {run_name!r} split seed {split_seed}: training questions overlap held-out "
                                 f"ones; refusing to export (pass --allow-leaks to export anyway):\n"
                                 f"{leak_summary(leaks)}")
    text_source, texts = db.level_texts(store, run_name, level)
    by_split: dict[str, list[str]] = {name: [] for name in (*SPLITS, "unused")}
    for row in rows:
        by_split[row["split"]].append(row["problem_id"])
    folder = export_folder(out_dir, run_name, split_seed, level).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    missing: dict[str, int] = {}
    for split in SPLITS:
        ids = sorted(pid for pid in by_split[split] if pid in texts)
        missing[split] = len(by_split[split]) - len(ids)
        lines = [json.dumps(training_example(texts[pid]["question"], texts[pid]["reasoning"], texts[pid]["answer"]),
                            ensure_ascii=False) for pid in ids]
        path = folder / f"{split}.jsonl"
        _write_atomic(path, "".join(line + "\n" for line in lines))
        files[split] = {"path": str(path), "sha256": file_sha256(path), "rows": len(lines)}
    split_ids = {pid for name in SPLITS for pid in by_split[name]}
    stale = sum(1 for pid in texts if pid not in split_ids)
    counts = {split: files[split]["rows"] for split in SPLITS}
    previous = db.latest_export(store, run_name, split_seed, level)
    if previous is not None and previous["files"] == files and previous["text_source"] == text_source \
            and (not leaks or previous["allow_leaks"]):
        return ExportResult(previous["export_id"], folder, counts, missing, text_source, leaks, reused=True,
                            created_split=created_split, stale=stale)
    export_id = db.record_export(store, ExportRow(
        run_name=run_name, split_seed=split_seed, level=level, text_source=text_source,
        folder=str(folder), files=files, train_rows=counts["train"], valid_rows=counts["valid"],
        test_rows=counts["test"], missing_text=missing, leaks=len(leaks), allow_leaks=allow_leaks))
    return ExportResult(export_id, folder, counts, missing, text_source, leaks, created_split=created_split,
                        stale=stale)


def verify_export(export: dict[str, Any]) -> None:
    """Refuse to train on files that changed (or vanished) since they were exported."""
    for split, entry in export["files"].items():
        path = Path(entry["path"])
        if not path.is_file() or file_sha256(path) != entry["sha256"]:
            raise StoreError(f"export {export['export_id']}: {path} ({split}) is missing or changed since it was "
                             "exported: run `distill export` again")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
