"""Ingest of the real O'Bryan (2011-2022) and MATH-500 files from ../shared/data."""

import shutil

from distill.store.ingest import ingest

FS, JS, SP = "freshman_sophomore_test", "junior_senior_test", "two_person_speed_event"
OBRYAN_COUNTS = {
    2011: {FS: 18, JS: 19},
    2012: {FS: 20, JS: 20, SP: 10},
    2013: {FS: 17, JS: 18, SP: 10},
    2014: {FS: 18, JS: 18, SP: 10},
    2015: {FS: 17, JS: 18, SP: 8},
    2016: {FS: 18, JS: 17, SP: 10},
    2017: {FS: 17, JS: 18, SP: 8},
    2018: {FS: 17, JS: 18, SP: 8},
    2019: {FS: 20, JS: 18, SP: 8},
    2020: {FS: 18, JS: 19},
    2021: {FS: 20, JS: 18, SP: 8},
    2022: {FS: 20, JS: 20, SP: 8},
}
# duplicate -> first occurrence (same question word for word, up to case and spacing)
OBRYAN_DUPLICATES = {
    "2016/junior_senior_test/question_7": "2012/freshman_sophomore_test/question_5",
    "2020/junior_senior_test/question_18": "2020/freshman_sophomore_test/question_12",
    "2021/junior_senior_test/question_2": "2021/freshman_sophomore_test/question_17",
    "2021/junior_senior_test/question_14": "2021/freshman_sophomore_test/question_20",
    "2022/junior_senior_test/question_1": "2022/freshman_sophomore_test/question_7",
    "2022/junior_senior_test/question_7": "2022/freshman_sophomore_test/question_17",
    "2022/junior_senior_test/question_15": "2022/freshman_sophomore_test/question_20",
    "2022/junior_senior_test/question_19": "2022/freshman_sophomore_test/question_11",
}


def test_obryan_counts_per_year_and_section(store, shared_data):
    report = ingest(store, shared_data / "obryan", "obryan")
    assert report.inserted == 529 and not report.rejects
    rows = store.query("SELECT year, section, problems FROM problem_counts")
    assert {(r["year"], r["section"]): r["problems"] for r in rows} == {
        (year, section): n for year, sections in OBRYAN_COUNTS.items() for section, n in sections.items()
    }


def test_obryan_2019_has_exactly_20_placeholders(store, shared_data):
    ingest(store, shared_data / "obryan", "obryan")
    rows = store.query("SELECT natural_key, status_reason FROM problems WHERE status = 'placeholder'")
    assert sorted(r["natural_key"] for r in rows) == sorted(
        f"2019/{section}/question_{n}" for section in (FS, JS) for n in range(11, 21)
    )
    assert all("not visible" in r["status_reason"] for r in rows)
    # placeholders share their text but are not linked as duplicates of each other
    assert store.scalar("SELECT count(*) FROM problems WHERE status = 'placeholder' AND duplicate_of IS NOT NULL") == 0


def test_obryan_exact_duplicates_link_to_their_first_occurrence(store, shared_data):
    ingest(store, shared_data / "obryan", "obryan")
    rows = store.query("SELECT natural_key, duplicate_of FROM problems WHERE duplicate_of IS NOT NULL")
    assert {r["natural_key"]: r["duplicate_of"] for r in rows} == {
        dup: f"obryan/{first}" for dup, first in OBRYAN_DUPLICATES.items()
    }
    assert store.scalar("SELECT usable FROM problem_counts WHERE year = 2022 AND section = ?", [JS]) == 16


def test_obryan_reingest_changes_nothing(store, shared_data):
    ingest(store, shared_data / "obryan", "obryan")
    before = store.query("SELECT * FROM problems ORDER BY problem_id")
    again = ingest(store, shared_data / "obryan", "obryan")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 529)
    assert store.query("SELECT * FROM problems ORDER BY problem_id") == before
    assert store.scalar("SELECT count(*) FROM problem_updates") == 0


def test_obryan_changed_answer_is_a_recorded_update(store, shared_data, tmp_path):
    folder = tmp_path / "obryan"
    shutil.copytree(shared_data / "obryan", folder)
    ingest(store, folder, "obryan")
    text = (folder / "2011.json").read_text(encoding="utf-8")
    assert '"answer": "3060"' in text
    (folder / "2011.json").write_text(text.replace('"answer": "3060"', '"answer": "3061"', 1), encoding="utf-8")
    report = ingest(store, folder, "obryan")
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 528)
    change = store.query("SELECT problem_id, field, old_value, new_value FROM problem_updates")
    assert change == [{"problem_id": "obryan/2011/freshman_sophomore_test/question_1", "field": "answer",
                       "old_value": "3060", "new_value": "3061"}]
    assert store.scalar("SELECT answer FROM problems WHERE problem_id = ?", [change[0]["problem_id"]]) == "3061"


def test_math500(store, shared_data):
    report = ingest(store, shared_data / "math500" / "math500.jsonl", "math500")
    assert report.inserted == 500 and not report.rejects
    assert store.scalar("SELECT count(DISTINCT subject) FROM problems") == 7
    levels = store.query("SELECT level, count(*) AS n FROM problems GROUP BY level ORDER BY level")
    assert [(r["level"], r["n"]) for r in levels] == [(1, 43), (2, 90), (3, 105), (4, 128), (5, 134)]
    assert store.scalar("SELECT count(*) FROM problems WHERE status = 'placeholder' OR duplicate_of IS NOT NULL") == 0
    row = store.query("SELECT * FROM problems WHERE natural_key = 'test/precalculus/807.json'")[0]
    assert row["answer"] == r"\left( 3, \frac{\pi}{2} \right)" and row["solution"].startswith("We have")


def test_sources_coexist_and_math500_reingest_is_idempotent(store, shared_data):
    ingest(store, shared_data / "obryan", "obryan")
    ingest(store, shared_data / "math500" / "math500.jsonl", "math500")
    again = ingest(store, shared_data / "math500" / "math500.jsonl", "math500")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 500)
    assert store.scalar("SELECT count(*) FROM problems") == 1029
