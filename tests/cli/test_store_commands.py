"""`distill ingest / problems / sql` through the real CLI (in-process)."""

import json

import pytest
from distill.store import Store

from tests.support.paths import SAMPLE


def test_ingest_then_problems(cli):
    result = cli("ingest", SAMPLE, "--format", "obryan", "--source", "sample")
    assert result.exit_code == 0, result.output
    assert "56 new" in result.output and "1 placeholders" in result.output
    table = cli("problems", "--format", "json")
    rows = json.loads(table.output)
    total = next(r for r in rows if r["section"] == "(all)")
    assert (total["problems"], total["usable"], total["duplicates"], total["placeholders"]) == (56, 54, 1, 1)
    by_year = {(r["year"], r["section"]): r["problems"] for r in rows if r["year"]}
    assert by_year[(2002, "two_person_speed_event")] == 7
    again = cli("ingest", SAMPLE, "--format", "obryan", "--source", "sample")
    assert "0 new, 0 updated, 56 unchanged" in again.output


def test_ingest_bad_input_exits_2_with_the_location(cli, tmp_path):
    bad = tmp_path / "2019.json"
    bad.write_text(json.dumps({"s": {"question_4": {"question": "Compute 3 times 3.", "answer": None}}}))
    result = cli("ingest", bad, "--format", "obryan")
    assert result.exit_code == 2
    assert "s/question_4: field 'answer': missing" in result.output.replace("\n", "")


@pytest.mark.parametrize("statement", [
    "DELETE FROM problems",
    "INSERT INTO sources VALUES ('x', 'csv', now(), NULL)",
    "UPDATE problems SET answer = '0'",
    "DROP TABLE problems",
    "CREATE TABLE t AS SELECT 1",
    "COPY problems TO 'leak.csv'",
    "ATTACH 'other.duckdb'",
    "SET threads = 1",
    "PRAGMA enable_profiling",
    "SELECT 1; DELETE FROM problems",
])
def test_sql_refuses_writes(cli, statement):
    cli("ingest", SAMPLE, "--format", "obryan", "--source", "sample")
    result = cli("sql", statement)
    assert result.exit_code == 2
    assert "refused" in result.output and "read-only" in result.output
    assert json.loads(cli("sql", "SELECT count(*) AS n FROM problems", "--format", "json").output) == [{"n": 56}]


def test_sql_formats(cli):
    cli("ingest", SAMPLE, "--format", "obryan", "--source", "sample")
    query = "SELECT section, count(*) AS n FROM problems WHERE year = 2001 GROUP BY 1 ORDER BY 1"
    csv_out = cli("sql", query, "--format", "csv").output.splitlines()
    assert csv_out == ["section,n", "freshman_sophomore_test,12", "junior_senior_test,10", "two_person_speed_event,6"]
    table = cli("sql", query).output
    assert "junior_senior_test" in table and "┃" in table
    assert cli("sql", "SELEC nonsense").exit_code == 2


def test_db_flag_and_env_var(cli, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere.duckdb"
    assert cli("ingest", SAMPLE, "--format", "obryan", "--db", elsewhere).exit_code == 0
    with Store(elsewhere, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM problems") == 56
    monkeypatch.setenv("DISTILL_DB", str(elsewhere))
    assert json.loads(cli("sql", "SELECT count(*) AS n FROM problems", "--format", "json").output) == [{"n": 56}]


def test_problems_without_a_store(cli, tmp_path):
    result = cli("problems", "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 2 and "no store at" in result.output
