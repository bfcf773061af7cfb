"""Generic JSONL/CSV with field mappings, placeholder detection, and the bundled sample set."""

import json

import pytest
from distill.store.ingest import FieldMapping, ingest, placeholder_reason, question_hash

from tests.support.paths import SAMPLE


def test_generic_jsonl_with_a_mapping_keeps_other_columns(store, tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [
        {"qid": "A-1", "prompt": "What is 6 times 7?", "gold": 42, "topic": "arithmetic", "year": 2024},
        {"qid": "A-2", "prompt": "What is 6 plus 7?", "gold": "13", "difficulty": "easy"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    report = ingest(store, path, "jsonl", source="mine", mapping=FieldMapping("prompt", "gold", "qid"))
    assert report.inserted == 2
    got = store.query("SELECT problem_id, question, answer, year, metadata FROM problems ORDER BY problem_id")
    assert got[0]["problem_id"] == "mine/A-1" and got[0]["answer"] == "42" and got[0]["year"] == 2024
    assert json.loads(got[0]["metadata"]) == {"topic": "arithmetic"}
    assert json.loads(got[1]["metadata"]) == {"difficulty": "easy"}


def test_generic_csv_default_id_column_and_row_numbers(store, tmp_path):
    with_id = tmp_path / "with_id.csv"
    with_id.write_text('id,question,answer,section\nx7,"Compute 3, then add 4.",7,warmup\n', encoding="utf-8")
    ingest(store, with_id, "csv", source="a")
    assert store.query("SELECT natural_key, section, question FROM problems") == [
        {"natural_key": "x7", "section": "warmup", "question": "Compute 3, then add 4."}]
    without_id = tmp_path / "without_id.csv"
    without_id.write_text("question,answer\nCompute 3 plus 4.,7\nCompute 3 plus 5.,8\n", encoding="utf-8")
    ingest(store, without_id, "csv", source="b")
    keys = [r["natural_key"] for r in store.query("SELECT natural_key FROM problems WHERE source='b' ORDER BY 1")]
    assert keys == ["row-1", "row-2"]


def test_duplicates_are_linked_across_sources_to_the_first_ingested(store, tmp_path):
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"id": "1", "question": "What is  6 times 7?", "answer": "42"}) + "\n")
    second = tmp_path / "second.csv"
    second.write_text("id,question,answer\n9,what is 6 TIMES 7?,42\n")
    ingest(store, first, "jsonl", source="first")
    report = ingest(store, second, "csv", source="second")
    assert report.duplicates == 1
    assert store.scalar("SELECT duplicate_of FROM problems WHERE source = 'second'") == "first/1"


def test_an_update_that_makes_a_question_unique_unlinks_it(store, tmp_path):
    path = tmp_path / "p.jsonl"
    line = {"id": "1", "question": "What is 6 times 7?", "answer": "42"}
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "id": "2"}) + "\n")
    ingest(store, path, "jsonl")
    assert store.scalar("SELECT duplicate_of FROM problems WHERE natural_key = '2'") == "jsonl/1"
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "id": "2", "question": "What is 6 times 8?"}) + "\n")
    report = ingest(store, path, "jsonl")
    assert report.updated == 1 and report.duplicates == 0
    new_hash = store.scalar("SELECT question_hash FROM problems WHERE natural_key = '2'")
    assert new_hash == question_hash("What is 6 times 8?")


@pytest.mark.parametrize(("text", "is_placeholder"), [
    (None, True),
    ("", True),
    ("   ", True),
    ("Question 12", True),
    ("Problem #7.", True),
    ("Question 11 (content not visible in provided pages)", True),
    ("Text not available in the source scan.", True),
    ("See figure.", True),
    ("[figure] Find x.", True),
    ("Find x.", True),
    ("Evaluate $\\log_264$.", False),
    ("Compute $\\dbinom{31}{28}$.", False),
    ("What is 15% of 80?", False),
    ("In the diagram, ABCD is a rhombus. If the degree measure of ∠ADC is 7 times that of ∠DAB, find ∠DAB.", False),
    ("A triangle with sides extended is shown (but not necessarily drawn to scale). Find the ratio x : y : z.", False),
    ("See the figure: a square of side 4 has a circle inscribed in it, tangent to all four sides. "
     "Find the area of the circle in terms of π.", False),
])
def test_placeholder_detection(text, is_placeholder):
    assert (placeholder_reason(text) is not None) is is_placeholder


def test_the_bundled_sample_set(store):
    report = ingest(store, SAMPLE, "obryan", source="sample")
    assert report.inserted == 56 and report.placeholders == 1 and report.duplicates == 1 and not report.rejects
    assert store.scalar("SELECT count(*) FROM active_problems WHERE duplicate_of IS NULL") == 54
    sections = {r["section"] for r in store.query("SELECT DISTINCT section FROM problems")}
    assert sections == {"freshman_sophomore_test", "junior_senior_test", "two_person_speed_event"}
    answers = [r["answer"] for r in store.query("SELECT answer FROM active_problems")]
    forms = {
        "integer": r"^-?\d+$", "fraction": r"^\d+/\d+$", "ratio": r"^\d+:\d+$", "decimal": r"^\d+\.\d+$",
        "radical": "√", "ordered pair": r"^\(.*,.*\)$", "money": r"^\$", "thousands": r"^\d{1,3},\d{3}$",
    }
    import re

    for form, pattern in forms.items():
        assert any(re.search(pattern, a) for a in answers), f"no {form} answer in the sample set"
