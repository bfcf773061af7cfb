"""`distill eval` and `distill report` in-process: the summary table, the files, and clear errors."""

from distill.agents.student import STUDENT_SYSTEM_PROMPT
from distill.store import Store

from tests.evaluation.helpers import SUMS_RUN as RUN
from tests.evaluation.helpers import sums_with_split, write_scripted_model


def test_eval_then_report(cli, tmp_path):
    with Store(tmp_path / "cli.duckdb") as store:
        problems = sums_with_split(store, tmp_path)
    texts = [STUDENT_SYSTEM_PROMPT] + [f"{p['question']} {p['reasoning']}" for p in problems]
    model = write_scripted_model(tmp_path / "model", texts, hidden=256)

    result = cli("eval", "--run", RUN, "--models", "base", "--base-model", model, "--max-tokens", 16)
    assert result.exit_code == 0, result.output
    assert "4 problems; answered now: 4" in result.output and "eval_accuracy" in result.output
    again = cli("eval", "--run", RUN, "--models", "base", "--base-model", model, "--max-tokens", 16)
    assert "answered now: 0" in again.output

    refused = cli("eval", "--run", RUN, "--models", "base", "--base-model", model, "--max-tokens", 8)
    assert refused.exit_code == 2 and "max_tokens" in refused.output and "--restart" in refused.output

    out = tmp_path / "report"
    report = cli("report", "--run", RUN, "--out", out)
    assert report.exit_code == 0, report.output
    assert (out / "report.md").is_file() and (out / "report.html").is_file() and (out / "accuracy-test.png").is_file()

    bad = cli("eval", "--run", RUN, "--models", "student:sums/R7")
    assert bad.exit_code == 2 and "R7" in bad.output
    missing = cli("report", "--run", "nothing", "--out", out)
    assert missing.exit_code == 2 and "no evaluated answers" in missing.output
