"""The whole study, reduced (a few problems, a few iterations), with the real default models: the report's
numbers equal the store's, and a second run resumes with nothing left to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from distill.store import Store

from distill.study import load_study_config, run_study
from tests.support.paths import SAMPLE

pytestmark = pytest.mark.real_models

REDUCED = """
name = "ci"
db = "{db}"
out = "{out}"

[[inputs]]
path = "{sample}"
format = "obryan"
source = "sample"

[corpus]
critic_mode = "cascade"
max_attempts = 1
limit = 14
local_sampling = {{ temperature = 0.0, max_tokens = 512 }}

[levels]
up_to = "R2"
max_attempts = 2
local_sampling = {{ temperature = 0.0, max_tokens = 320 }}

[split]
valid = 0.3
test = 0.1

[train]
levels = ["R1", "R2"]
seeds = [1, 2]
iters = 4
batch_size = 2
learning_rate = 1e-4
steps_per_report = 2
steps_per_eval = 2

[eval]
models = "base,teacher,student"
max_tokens = 48
limit = 3
"""


def markdown_table(text: str, heading: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table after `heading`, as dicts by column."""
    lines = text.split(heading, 1)[1].strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[start:end]]
    header, body = rows[0], [row for row in rows[1:] if not set("".join(row)) <= set("-: ")]
    return [dict(zip(header, row, strict=True)) for row in body]


def counts(db: Path) -> dict[str, int]:
    with Store(db, read_only=True) as store:
        return {table: store.scalar(f"SELECT count(*) FROM {table}")
                for table in ("attempts", "verdicts", "level_attempts", "training_losses", "eval_items")}


def test_reduced_study_report_equals_the_store(real_models, llama_cpp, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DISTILL_MODELS_DIR", str(real_models))
    path = tmp_path / "ci.toml"
    path.write_text(REDUCED.format(db=tmp_path / "ci.duckdb", out=tmp_path / "runs", sample=SAMPLE))
    config = load_study_config(path)
    result = run_study(config, log=print)

    assert set(result.seconds) == {"ingest", "corpus", "levels", "split", "train", "eval", "report"}
    report_md = (result.report_dir / "report.md").read_text()
    html = (result.report_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 and "<table" in html
    with Store(config.db, read_only=True) as store:
        summary = {r["label"]: r for r in store.query(
            "SELECT label, seeds, max_problems, mean_accuracy, truncated FROM eval_model_summary "
            "WHERE run_name = 'ci'")}
        best = store.query("SELECT level, seed, best_iteration FROM training_runs ORDER BY level, seed")
    table = {row["model"]: row for row in markdown_table(report_md, "Accuracy: base vs teacher vs student")}
    assert set(table) == set(summary) and {"base", "teacher"} <= set(summary)
    assert any(label.startswith("student") for label in summary)
    for label, row in summary.items():
        assert table[label]["accuracy %"] == f"{100 * row['mean_accuracy']:.1f}"
        assert int(table[label]["seeds"]) == row["seeds"] and int(table[label]["problems"]) == row["max_problems"]
        assert int(table[label]["truncated (all seeds)"]) == row["truncated"]
    assert len(best) == 4 and all(r["best_iteration"] is not None for r in best)
    assert re.search(r"kept \(best\) iteration", report_md)

    before = counts(config.db)
    again = run_study(config, log=print)
    assert counts(config.db) == before, "a second run must find everything done"
    assert again.headline == result.headline
