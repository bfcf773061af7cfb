import duckdb
import pytest
from distill.store import Store, StoreError
from distill.store.db import load_migrations
from distill.store.rows_ingest import ProblemUpdateRow
from distill.store.writer import insert


def test_fresh_store_is_at_the_newest_version(tmp_path):
    with Store(tmp_path / "a.duckdb") as store:
        assert store.schema_version() == load_migrations()[-1].version
        tables = {r["table_name"] for r in store.query("SELECT table_name FROM information_schema.tables")}
    assert {"sources", "problems", "ingests", "ingest_rejects", "problem_updates", "runs"} <= tables


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "a.duckdb"
    Store(path).close()
    with Store(path) as store:
        rows = store.query("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version")
    assert all(r["n"] == 1 for r in rows)


def test_an_edited_migration_is_refused(tmp_path):
    path = tmp_path / "a.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    con.close()
    with pytest.raises(StoreError, match="changed after it was applied"):
        Store(path)


def test_a_newer_store_is_refused(tmp_path):
    path = tmp_path / "a.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x', now())")
    con.close()
    with pytest.raises(StoreError, match="does not know"):
        Store(path)


def test_a_second_writer_gets_a_clear_error(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "a.duckdb"
    with Store(path):
        code = f"from distill.store import Store\nStore({str(path)!r})"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "one writer process" in result.stderr


def test_read_only_needs_an_existing_store(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_insert_is_one_bulk_statement(store):
    rows = [ProblemUpdateRow(problem_id=f"p{i}", field="answer", ingest_id=1, old_value=None, new_value=str(i))
            for i in range(3000)]
    with store.transaction() as tx:
        assert insert(tx, *rows) == 3000
    assert store.scalar("SELECT count(*) FROM problem_updates WHERE old_value IS NULL") == 3000


def test_a_failed_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.execute("INSERT INTO sources (name, format) VALUES ('x', 'csv')")
        raise RuntimeError("boom")
    assert store.scalar("SELECT count(*) FROM sources") == 0
