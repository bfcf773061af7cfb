"""Output fit for files: written to a pipe or a file (a log, CI), tables and progress carry no ANSI codes, CSV
ends lines with \\n, and NO_COLOR is honoured."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from distill.store import Store
from distill.store.ingest import ingest

from tests.support.openai_server import OpenAIServer, sums_teacher
from tests.support.paths import SAMPLE

ANSI = "\x1b["


def test_csv_lines_end_with_newline_not_crlf(cli):
    cli("ingest", SAMPLE, "--format", "obryan", "--source", "sample")
    result = cli("sql", "SELECT 'a,b' AS x, 2 AS n UNION ALL SELECT 'c', 3 ORDER BY n", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b'x,n\n"a,b",2\nc,3\n'  # (click's result.output would hide a \r\n)


def test_a_table_to_a_pipe_has_no_ansi_codes(cli):
    cli("ingest", SAMPLE, "--format", "obryan", "--source", "sample")
    result = cli("problems")
    assert result.exit_code == 0 and "two_person_speed_event" in result.output
    assert ANSI not in result.output


def plain_env(**extra: str) -> dict[str, str]:
    """This environment without what forces a terminal (a CI may set FORCE_COLOR), plus `extra`."""
    forcing = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "PY_COLORS")
    return {**{k: v for k, v in os.environ.items() if k not in forcing}, **extra}


def distill(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A real `distill` process with stdout and stderr to pipes."""
    code = "import sys; from distill.cli import main; sys.argv[0] = 'distill'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_no_color_removes_every_style_even_where_a_terminal_is_forced(tmp_path):
    db = tmp_path / "c.duckdb"
    assert distill("ingest", str(SAMPLE), "--format", "obryan", "--db", str(db), env=plain_env()).returncode == 0
    coloured = distill("problems", "--db", str(db), env=plain_env(FORCE_COLOR="1"))
    assert ANSI in coloured.stdout  # the forced terminal is styled (so the next check means something)
    plain = distill("problems", "--db", str(db), env=plain_env(FORCE_COLOR="1", NO_COLOR="1"))
    assert plain.returncode == 0 and "two_person_speed_event" in plain.stdout
    assert ANSI not in plain.stdout + plain.stderr


def test_a_corpus_build_to_a_pipe_prints_plain_progress_lines(tmp_path):
    problems = tmp_path / "sums.jsonl"
    problems.write_text("".join(json.dumps({"id": f"s{i:03d}", "question": f"What is {i} plus {i + 1}?",
                                            "answer": str(2 * i + 1)}) + "\n" for i in range(20)))
    db = tmp_path / "b.duckdb"
    with Store(db) as store:
        ingest(store, problems, "jsonl", source="sums")
    with OpenAIServer(sums_teacher) as server:
        built = distill("build", "--run", "piped", "--teacher", f"scripted@{server.base_url}", "--db", str(db),
                        env=plain_env())
    assert built.returncode == 0, built.stdout + built.stderr
    assert ANSI not in built.stdout + built.stderr
    lines = built.stdout.splitlines()
    assert lines[0] == "build piped: 0/20 done, 0 accepted 0 abstained 0 failed, 0 tokens"
    progress = [line for line in lines if line.startswith("build piped: ")]
    assert progress[-1].startswith("build piped: 20/20 done, 20 accepted 0 abstained 0 failed, ")
    assert " in " in progress[-1] and 3 <= len(progress) <= 12  # now and then: not a line per problem
    assert "━" not in built.stdout  # no bar
