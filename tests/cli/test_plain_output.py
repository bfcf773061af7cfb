"""Output fit for files: CSV ends lines with \\n."""

from __future__ import annotations

from tests.support.paths import SAMPLE


def test_csv_lines_end_with_newline_not_crlf(cli):
    cli("ingest", SAMPLE, "--format", "obryan", "--source", "sample")
    result = cli("sql", "SELECT 'a,b' AS x, 2 AS n UNION ALL SELECT 'c', 3 ORDER BY n", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b'x,n\n"a,b",2\nc,3\n'  # (click's result.output would hide a \r\n)

