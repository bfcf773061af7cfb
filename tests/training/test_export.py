"""Export: valid mlx-lm chat JSONL with the student's system prompt, one line per problem with text, recorded with
sha256 and counts; R1 falls back to the corpus until the levels stage has run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from distill.agents.student import STUDENT_SYSTEM_PROMPT
from distill.store import StoreError
from distill.store import training as db
from distill.store.rows import LevelRow
from distill.store.writer import insert
from distill.training.export import export_level, verify_export
from distill.training.splits import make_split

from tests.support.training_fakes import add_corpus


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_lines_are_chat_jsonl_with_the_student_prompt(toy_run):
    result = export_level(toy_run.store, toy_run.run, "R1", 0, out_dir=toy_run.tmp / "runs")
    assert result.created_split and result.text_source == "corpus"
    assert result.folder == (toy_run.tmp / "runs" / toy_run.run / "data" / "split-0" / "R1").resolve()
    questions = {f"toy/{p['id']}": p for p in toy_run.problems}
    split = {r["problem_id"]: r["split"] for r in db.split_rows(toy_run.store, toy_run.run, 0)}
    for name in ("train", "valid", "test"):
        lines = read_lines(result.path(name))
        expected = sorted(pid for pid, s in split.items() if s == name and pid not in ("toy/q001", "toy/q002"))
        assert len(lines) == result.rows[name] == len(expected)
        by_question = {p["question"]: p for p in toy_run.problems}
        for line in lines:
            assert list(line) == ["messages"]
            system, user, assistant = line["messages"]
            assert system == {"role": "system", "content": STUDENT_SYSTEM_PROMPT}
            assert user["role"] == "user" and assistant["role"] == "assistant"
            problem = by_question[user["content"]]
            assert assistant["content"].startswith(problem["reasoning"])
            assert assistant["content"].endswith(f"Answer: \\boxed{{{problem['answer']}}}")
        assert sorted(f"toy/{by_question[line['messages'][1]['content']]['id']}" for line in lines) == expected
    # the abstained problems are counted as missing text where they landed (test or not at all)
    assert result.missing_text["train"] == result.missing_text["valid"] == 0
    assert result.missing_text["test"] == sum(1 for pid in ("toy/q001", "toy/q002") if split[pid] == "test")
    assert set(questions) >= set(split)


def test_export_is_recorded_with_hashes_and_reused_when_identical(toy_run):
    first = export_level(toy_run.store, toy_run.run, "R1", 0, out_dir=toy_run.tmp / "runs")
    record = db.export_by_id(toy_run.store, first.export_id)
    for name in ("train", "valid", "test"):
        entry = record["files"][name]
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
        assert entry["rows"] == first.rows[name]
    assert (record["train_rows"], record["valid_rows"], record["test_rows"]) == (
        first.rows["train"], first.rows["valid"], first.rows["test"])
    again = export_level(toy_run.store, toy_run.run, "R1", 0, out_dir=toy_run.tmp / "runs")
    assert again.reused and again.export_id == first.export_id
    verify_export(record)
    Path(record["files"]["train"]["path"]).write_text("{}\n")
    with pytest.raises(StoreError, match="changed since it was exported"):
        verify_export(record)


def test_levels_rows_are_used_when_present_and_other_levels_need_them(toy_run):
    store = toy_run.store
    with pytest.raises(StoreError, match="no level R3 rows"):
        export_level(store, toy_run.run, "R3", 0, out_dir=toy_run.tmp / "runs")
    make_split(store, toy_run.run, 0)
    train_ids = [r["problem_id"] for r in db.split_rows(store, toy_run.run, 0) if r["split"] == "train"]
    for i, pid in enumerate(train_ids):  # R3 exists for all train problems; one of them failed
        insert(store.cursor(), LevelRow(run_name=toy_run.run, problem_id=pid, level="R3",
                                        status="failed" if i == 0 else "ok", text=None if i == 0 else "short.",
                                        answer="7", words=None, tokens=None, target_words=None, source_level=None,
                                        attempts=1, reason=None, call_key=None))
    result = export_level(store, toy_run.run, "R3", 0, out_dir=toy_run.tmp / "runs")
    assert result.text_source == "levels"
    assert result.rows == {"train": len(train_ids) - 1, "valid": 0, "test": 0}
    assert result.missing_text["train"] == 1
    lines = read_lines(result.path("train"))
    assert all(line["messages"][2]["content"] == "short.\n\nAnswer: \\boxed{7}" for line in lines)


def test_stale_split_is_reported(toy_run):
    store = toy_run.store
    first = make_split(store, toy_run.run, 0)
    pid = first.ids("train")[0]
    store.cursor().execute("DELETE FROM corpus WHERE problem_id = ?", [pid])
    assert pid in make_split(store, toy_run.run, 0).ids("unused")  # no text now; the test set is unchanged
    add_corpus(store, toy_run.run, [p for p in toy_run.problems if f"toy/{p['id']}" == pid])  # text again
    result = export_level(store, toy_run.run, "R1", 0, out_dir=toy_run.tmp / "runs")
    assert result.stale == 1
    question = next(p["question"] for p in toy_run.problems if f"toy/{p['id']}" == pid)
    assert question not in {line["messages"][1]["content"] for line in read_lines(result.path("train"))}
