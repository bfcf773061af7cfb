"""Ingest limits: control characters and over-long questions or answers are refused, located; --skip-invalid
records them as rejects."""

import json

import pytest
from distill.store.ingest import IngestFailed, IngestLimits, ingest


def jsonl(tmp_path, *rows, name="p.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = {"id": "ok", "question": "Compute 2 + 3 here.", "answer": "5"}


@pytest.mark.parametrize(("row", "fragments"), [
    ({"id": "q1", "question": "Compute 2\u0000+ 3 here.", "answer": "5"},
     ["p.jsonl", "line 2", "field 'question'", "U+0000 (NUL) at position 9"]),
    ({"id": "q1", "question": "Compute 2 + 3 here.", "answer": "5\u0000"},
     ["line 2", "field 'answer'", "U+0000 (NUL)"]),
    ({"id": "q1", "question": "Find \frac{1}{2} of 8.", "answer": "4"},
     ["field 'question'", "U+000C (form feed)", "one backslash in JSON", "two backslashes"]),
    ({"id": "q1", "question": "Compute 2 + 3 \u001b[31mhere.", "answer": "5"},
     ["field 'question'", "U+001B (escape)"]),
    ({"id": "q1", "question": "Compute 2 + 3\u0085 here.", "answer": "5"},
     ["field 'question'", "U+0085"]),
    ({"id": "q1", "question": "Compute " + "2 + " * 5_000 + "3.", "answer": "5"},
     ["line 2", "field 'question'", "20,010 characters, over the limit of 20,000", "--max-question-chars"]),
    ({"id": "q1", "question": "Compute 2 + 3 here.", "answer": "5" * 1_001},
     ["line 2", "field 'answer'", "1,001 characters, over the limit of 1,000", "--max-answer-chars"]),
])
def test_refused_with_file_record_and_field(store, tmp_path, row, fragments):
    path = jsonl(tmp_path, GOOD, row)
    with pytest.raises(IngestFailed) as caught:
        ingest(store, path, "jsonl")
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert store.scalar("SELECT count(*) FROM problems") == 0


def test_tab_newline_and_carriage_return_are_allowed(store, tmp_path):
    row = {"id": "q1", "question": "Compute:\n\t2 + 3\r\nhere.", "answer": "5"}
    report = ingest(store, jsonl(tmp_path, row), "jsonl")
    assert report.inserted == 1


def test_limits_are_configurable(store, tmp_path):
    path = jsonl(tmp_path, GOOD, {"id": "long", "question": "Compute " + "1 + " * 30 + "1.", "answer": "31"})
    with pytest.raises(IngestFailed, match="over the limit of 50"):
        ingest(store, path, "jsonl", limits=IngestLimits(max_question_chars=50))
    with pytest.raises(IngestFailed, match="field 'answer': 2 characters, over the limit of 1"):
        ingest(store, path, "jsonl", limits=IngestLimits(max_answer_chars=1))
    assert ingest(store, path, "jsonl", limits=IngestLimits(max_question_chars=500)).inserted == 2


def test_skip_invalid_records_them_as_rejects(store, tmp_path):
    path = jsonl(tmp_path, GOOD, {"id": "nul", "question": "Compute 2\u0000+ 3 here.", "answer": "5"},
                 {"id": "big", "question": "Compute 2 + 3 here.", "answer": "9" * 2_000})
    report = ingest(store, path, "jsonl", skip_invalid=True)
    assert report.inserted == 1 and len(report.rejects) == 2
    rejects = store.query("SELECT locator, field, reason, raw FROM ingest_rejects ORDER BY locator")
    assert [(r["locator"], r["field"]) for r in rejects] == [("line 2", "question"), ("line 3", "answer")]
    assert "U+0000" in rejects[0]["reason"] and "over the limit" in rejects[1]["reason"]
    assert len(rejects[1]["raw"]) == 500
    assert store.scalar("SELECT count(*) FROM problems WHERE question LIKE '%' || chr(0) || '%'") == 0


def test_cli_flags_and_exit_code(cli, tmp_path):
    path = jsonl(tmp_path, GOOD, {"id": "q1", "question": "Compute 2 + 3 here.", "answer": "12345"})
    refused = cli("ingest", path, "--format", "jsonl", "--max-answer-chars", "4")
    assert refused.exit_code == 2
    assert "field 'answer': 5 characters, over the limit of 4" in refused.output.replace("\n", "")
    assert "Traceback" not in refused.output
    assert cli("ingest", path, "--format", "jsonl").exit_code == 0
