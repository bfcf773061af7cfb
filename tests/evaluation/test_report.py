"""The report renders (Markdown, self-contained HTML, PNG plots) and its tables equal the SQL views, read back
from the Markdown itself; changing the store changes the report (nothing is cached or hard-coded)."""

import re
import statistics

import pytest
from distill.evaluation.report import build_report
from distill.store import StoreError

from tests.evaluation.helpers import craft_study, craft_training

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def study(store, tmp_path):
    craft_study(store, tmp_path)
    craft_training(store)
    return store


def table_after(markdown: str, heading: str) -> list[dict[str, str]]:
    """The first Markdown table after `heading`, as rows of {column: cell}."""
    lines = markdown[markdown.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        block.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    header, rows = block[0], block[2:]
    return [dict(zip(header, row, strict=True)) for row in rows]


def pct(value):
    return "–" if value is None else f"{100 * value:.1f}"


def one(value):
    return f"{value:.1f}"


def test_report_tables_equal_the_sql(study, tmp_path):
    out = tmp_path / "report"
    report = build_report(study, "study", out)
    markdown = (out / "report.md").read_text()

    models = {r["model"]: r for r in table_after(markdown, "### Accuracy: base vs teacher vs student")}
    summary = study.query("SELECT * FROM eval_model_summary WHERE run_name = 'study' AND split = 'test'")
    assert set(models) == {r["label"] for r in summary} == {"base", "teacher", "student:study/R1", "student:study/R2"}
    for row in summary:
        shown = models[row["label"]]
        assert shown["accuracy %"] == pct(row["mean_accuracy"]) and shown["± std"] == pct(row["std_accuracy"])
        assert (shown["seeds"], shown["problems"], shown["undecided (all seeds)"], shown["truncated (all seeds)"]) == (
            str(row["seeds"]), str(row["max_problems"]), str(row["undecided"]), str(row["truncated"]))
        assert shown["mean words"] == one(row["mean_words"]) and shown["mean tokens"] == one(row["mean_tokens"])
        low, high = (float(x) for x in shown["95% CI"].strip("[]").split(","))
        assert low <= float(shown["accuracy %"]) <= high
    assert models["student:study/R1"]["accuracy %"] == "53.3"
    assert models["student:study/R1"]["± std"] == pct(statistics.stdev([0.6, 0.2, 0.8])) == "30.6"
    assert models["base"]["± std"] == "–"

    seeds = table_after(markdown, "### Per model and seed (view eval_accuracy)")
    sql = study.query("SELECT * FROM eval_accuracy WHERE run_name = 'study'")
    assert len(seeds) == len(sql)
    by_key = {(r["label"], str(r["seed"])): r for r in sql}
    for shown in seeds:
        row = by_key[(shown["model"], shown["seed"])]
        for column in ("problems", "correct", "incorrect", "undecided", "truncated", "judged"):
            assert shown[column] == str(row[column])
        assert shown["accuracy %"] == pct(row["accuracy"]) and shown["mean words"] == one(row["mean_words"])

    levels = {r["level"]: r for r in table_after(markdown, "### Students by reasoning level")}
    level_sql = {r["level"]: r for r in study.query(
        "SELECT * FROM eval_model_summary WHERE kind = 'student' AND run_name = 'study'")}
    for level in ("R1", "R2"):
        assert levels[level]["accuracy %"] == pct(level_sql[level]["mean_accuracy"])
        assert levels[level]["answer words"] == one(level_sql[level]["mean_words"])
    assert (levels["R1"]["training words"], levels["R2"]["training words"]) == ("90.0", "40.0")

    sections = table_after(markdown, "### By section and year")
    section_sql = study.query("SELECT label, section, avg(accuracy) AS accuracy FROM eval_accuracy_by_section "
                              "WHERE run_name = 'study' GROUP BY ALL")
    expected = {(r["label"], r["section"]): pct(r["accuracy"]) for r in section_sql}
    assert {(r["model"], r["section"]): r["accuracy %"] for r in sections} == expected
    assert {r["year"] for r in sections} == {"2001", "2002"}

    training = table_after(markdown, "## Training")
    assert [(r["seed"], r["kept (best) iteration"]) for r in training] == [("1", "20"), ("2", "10"), ("3", "30")]

    names = sorted(p.name for p in report.images)
    assert names == ["accuracy-test.png", "accuracy-vs-words-test.png", "loss-curves.png", "sections-test.png"]
    html = (out / "report.html").read_text()
    for image in report.images:
        assert image.read_bytes().startswith(PNG_MAGIC) and image.stat().st_size > 5000
        assert f"]({image.name})" in markdown
    assert html.count('src="data:image/png;base64,') == 4 and "<table>" in html and 'src="http' not in html


def test_the_report_follows_the_store(study, tmp_path):
    build_report(study, "study", tmp_path / "a")
    study.cursor().execute("UPDATE eval_items SET rule_verdict = 'correct' WHERE evaluation_id = "
                           "(SELECT evaluation_id FROM evaluations WHERE label = 'base') AND problem_id = 'ob/p3'")
    build_report(study, "study", tmp_path / "b")
    before = {r["model"]: r for r in table_after((tmp_path / "a" / "report.md").read_text(), "### Accuracy")}
    after = {r["model"]: r for r in table_after((tmp_path / "b" / "report.md").read_text(), "### Accuracy")}
    assert (before["base"]["accuracy %"], after["base"]["accuracy %"]) == ("40.0", "60.0")


def test_a_run_without_evaluations_has_no_report(store, tmp_path):
    with pytest.raises(StoreError, match="no evaluated answers"):
        build_report(store, "nothing", tmp_path)
