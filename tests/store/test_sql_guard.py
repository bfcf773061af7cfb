"""`distill sql`'s guard: the store and nothing else (no files, no network, no settings, no writes)."""

import time

import pytest
from distill.store import Store, StoreError
from distill.store.queries import WriteRefused, read_only_sql


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path):
        pass
    return path


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT content FROM read_blob('/etc/hostname')",
    "SELECT * FROM glob('/root/*')",
    "SELECT * FROM glob('/etc/*')",
])
def test_local_files_are_refused(db, query):
    with pytest.raises(WriteRefused, match="reads only the store; file, glob, COPY and network access are disabled"):
        read_only_sql(db, query)


def test_a_bare_file_path_is_not_read(db):
    with pytest.raises(StoreError, match="does not exist") as caught:
        read_only_sql(db, "SELECT * FROM '/etc/passwd'")
    assert "root:" not in str(caught.value)


def test_network_read_fails_fast_without_a_download(db):
    started = time.monotonic()
    with pytest.raises(WriteRefused, match="network access are disabled") as caught:
        read_only_sql(db, "SELECT * FROM read_csv('http://example.invalid/x.csv')")
    assert time.monotonic() - started < 2
    assert "http://example.invalid/x.csv" in str(caught.value)


@pytest.mark.parametrize("query", [
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'",
    "explain analyse COPY (SELECT 1) TO '{out}' (FORMAT csv)",
    "/* hidden */ EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'",
    "EXPLAIN COPY (SELECT 1) TO '{out}'",
    "EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1",
    "EXPLAIN ANALYZE INSERT INTO problems SELECT * FROM problems",
])
def test_explain_of_anything_but_select_is_refused(db, tmp_path, query):
    out = tmp_path / "written.csv"
    with pytest.raises(WriteRefused, match="EXPLAIN runs here only on a SELECT"):
        read_only_sql(db, query.format(out=out))
    assert not out.exists()


def test_settings_cannot_be_changed(db):
    with pytest.raises(WriteRefused, match="SET statement"):
        read_only_sql(db, "SET enable_external_access = true")
    rows = read_only_sql(db, "SELECT value FROM duckdb_settings() WHERE name = 'enable_external_access'").rows
    assert rows == [("false",)]


@pytest.mark.parametrize("query", [
    "SELECT count(*) AS n FROM problems",
    "EXPLAIN SELECT * FROM problems",
    "EXPLAIN ANALYZE SELECT count(*) FROM problems",
    "-- a comment\nEXPLAIN ANALYZE WITH p AS (SELECT 1) SELECT * FROM p",
    "FROM problems SELECT count(*)",
])
def test_reading_the_store_still_works(db, query):
    assert read_only_sql(db, query).rows
