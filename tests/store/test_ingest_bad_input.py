"""Bad input: a located error naming file, record/line and field; nothing written; --skip-invalid records."""

import json

import pytest
from distill.store.ingest import FieldMapping, IngestError, IngestFailed, ingest

TABLES = ("sources", "problems", "ingests", "ingest_rejects", "problem_updates")
GOOD = {"algebra": {"question_1": {"question": "Solve for x: 2x + 3 = 11.", "answer": "4"}}}


def snapshot(store):
    return {t: store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


@pytest.fixture
def seeded(store, tmp_path):
    """A store that already holds one good ingest, so 'unchanged' means something."""
    good = tmp_path / "good" / "2020.json"
    good.parent.mkdir()
    good.write_text(json.dumps(GOOD))
    ingest(store, good, "obryan", source="good")
    return store


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


CASES = [
    # (file name, content, format, expected fragments of the message)
    ("2019.json", '{"algebra": {"question_1": {"question": "x", "answer": "1"}', "obryan",
     ["2019.json", "line 1 column", "malformed JSON"]),
    ("2019.json", {"algebra": {"question_3": {"question": "Find the sum of 2 and 3."}}}, "obryan",
     ["2019.json", "algebra/question_3", "field 'answer'", "missing"]),
    ("2019.json", {"algebra": {"question_3": {"question": "Find the sum of 2 and 3.", "answer": ""}}}, "obryan",
     ["algebra/question_3", "field 'answer'", "empty"]),
    ("2019.json", {"algebra": {"question_3": {"question": ["Find", "it"], "answer": "1"}}}, "obryan",
     ["algebra/question_3", "field 'question'", "expected text, got list"]),
    ("2019.json", {"algebra": {"question_3": {"question": "Round pi to 2 places.", "answer": 3.14}}}, "obryan",
     ["algebra/question_3", "field 'answer'", "number 3.14", "exact form"]),
    ("2019.json", {"algebra": {"question_3": {"question": "Is 2 prime or not?", "answer": True}}}, "obryan",
     ["field 'answer'", "boolean"]),
    ("2019.json", {"algebra": ["question_3"]}, "obryan", ["2019.json", "algebra", "expected an object of questions"]),
    ("2019.json", {"algebra": {"question_3": "just text"}}, "obryan", ["algebra/question_3", "expected an object"]),
    ("2019.json", [1, 2], "obryan", ["2019.json", "expected an object of sections"]),
    ("2019.json", '{"a": {"question_1": {"question": "Find 2+2 now.", "answer": "4"},'
                  ' "question_1": {"question": "Find 3+3 now.", "answer": "6"}}}', "obryan",
     ["2019.json", "'question_1' appears twice"]),
    ("problems.json", GOOD, "obryan", ["problems.json", "no year in the file name"]),
    ("2019.json", b"", "obryan", ["2019.json", "file is empty"]),
    ("2019.json", "  \n", "obryan", ["2019.json", "file is empty"]),
    ("2019.json", '{"a": {"question_1": {"question": "caf\xe9 costs?", "answer": "1"}}}'.encode("latin-1"), "obryan",
     ["2019.json", "line 1", "not valid UTF-8", "0xe9"]),
    ("m.jsonl", '{"unique_id": "a", "problem": "Compute 2+3 here.", "answer": "5", "level": "3"}\n{"unique_id": "b"',
     "math500", ["m.jsonl", "line 2", "malformed JSON"]),
    ("m.jsonl", '{"unique_id": "a", "problem": "Compute 2+3 here.", "answer": "5", "level": "9"}\n', "math500",
     ["m.jsonl", "line 1", "field 'level'", "expected 1..5"]),
    ("m.jsonl", '{"unique_id": "a", "problem": "Compute 2+3 here."}\n', "math500",
     ["m.jsonl", "line 1", "field 'answer'", "missing"]),
    ("m.jsonl", '{"unique_id": "a", "problem": "Compute 2+3.", "answer": "5"}\n'
                '{"unique_id": "a", "problem": "Compute 2+4.", "answer": "6"}\n', "math500",
     ["m.jsonl", "line 2", "'a' repeats", "line 1"]),
    ("g.jsonl", '["not", "an", "object"]\n', "jsonl", ["g.jsonl", "line 1", "expected an object, got list"]),
    ("g.csv", "id,question,answer\n1,Compute 2+3 here.,5\n2,Compute 2+4 here.,6,extra\n", "csv",
     ["g.csv", "line 3", "4 fields, the header has 3"]),
    ("g.csv", "id,question,answer\n1,Compute 2+3 here.\n", "csv", ["g.csv", "line 2", "fewer fields"]),
    ("g.csv", "id,problem,answer\n1,Compute 2+3 here.,5\n", "csv",
     ["g.csv", "line 1 (header)", "field 'question'", "no such column"]),
    ("g.csv", "id,question,answer\n1,Compute 2+3 here.,\n", "csv", ["g.csv", "line 2", "field 'answer'", "empty"]),
    ("g.csv", b"id,question,answer\n1,Compute 2+3,5\n2,Na\xefve sum,4\n", "csv",
     ["g.csv", "line 3", "not valid UTF-8"]),
]


@pytest.mark.parametrize(("name", "content", "fmt", "fragments"), CASES,
                         ids=[c[3][-1] + "/" + c[2] for c in CASES])
def test_bad_input_fails_clearly_and_writes_nothing(seeded, tmp_path, name, content, fmt, fragments):
    path = write(tmp_path, name, content)
    before = snapshot(seeded)
    with pytest.raises((IngestFailed, IngestError)) as caught:
        ingest(seeded, path, fmt, source="bad")
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert snapshot(seeded) == before


def test_one_bad_file_in_a_folder_writes_nothing_from_the_others(seeded, tmp_path):
    folder = tmp_path / "years"
    folder.mkdir()
    write(folder, "2018.json", {"a": {"question_1": {"question": "Compute 4 times 5.", "answer": "20"}}})
    write(folder, "2019.json", '{"a": ')
    before = snapshot(seeded)
    with pytest.raises(IngestFailed, match="2019.json"):
        ingest(seeded, folder, "obryan")
    assert snapshot(seeded) == before


def test_skip_invalid_keeps_the_good_rows_and_records_each_reject(seeded, tmp_path):
    folder = tmp_path / "years"
    folder.mkdir()
    write(folder, "2018.json", {"a": {
        "question_1": {"question": "Compute 4 times 5.", "answer": "20"},
        "question_2": {"question": "Compute 4 plus 5.", "answer": 9.0},
        "question_3": {"question": "Compute 4 minus 5."},
    }})
    write(folder, "2019.json", b"\xff\xfe broken")
    report = ingest(seeded, folder, "obryan", skip_invalid=True)
    assert report.inserted == 1 and len(report.rejects) == 3
    rejects = seeded.query("SELECT path, locator, field, reason FROM ingest_rejects ORDER BY locator")
    assert [(r["locator"], r["field"]) for r in rejects] == [("a/question_2", "answer"), ("a/question_3", "answer"),
                                                             ("line 1", "")]
    assert "not valid UTF-8" in rejects[2]["reason"] and rejects[2]["path"].endswith("2019.json")
    # again: the same rejects are not recorded twice, the good row is unchanged
    again = ingest(seeded, folder, "obryan", skip_invalid=True)
    assert (again.inserted, again.unchanged) == (0, 1)
    assert seeded.scalar("SELECT count(*) FROM ingest_rejects") == 3
    assert seeded.scalar("SELECT rejected FROM ingests ORDER BY ingest_id DESC LIMIT 1") == 3


def test_a_source_keeps_its_format(seeded, tmp_path):
    path = write(tmp_path, "g.csv", "id,question,answer\n1,Compute 2+3 here.,5\n")
    with pytest.raises(ValueError, match="ingested as format 'obryan'"):
        ingest(seeded, path, "csv", source="good")


def test_missing_path_and_empty_folder(store, tmp_path):
    with pytest.raises(IngestError, match="no such file or folder"):
        ingest(store, tmp_path / "nope.json", "obryan")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match=r"no \.json files in this folder"):
        ingest(store, tmp_path / "empty", "obryan")


def test_id_mapping_errors_name_the_mapped_field(store, tmp_path):
    path = write(tmp_path, "g.jsonl", '{"qid": "", "q": "Compute 2+3 here.", "a": "5"}\n')
    with pytest.raises(IngestFailed, match="line 1: field 'qid': empty"):
        ingest(store, path, "jsonl", mapping=FieldMapping(question="q", answer="a", id="qid"))
