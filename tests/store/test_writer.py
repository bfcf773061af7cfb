"""The store's writer: typed rows, conflict policy by model, batching, reads that see every earlier write."""

from __future__ import annotations

import asyncio

import duckdb
import pytest
from distill.store.rows import CallErrorRow, JobRow, OutcomeRow, RunRow, VerdictRow
from distill.store.rows_ingest import SourceRow
from distill.store.writer import AsyncWriter, group_rows, insert, insert_returning


def verdict(key: str, verdict: str = "correct", **fields) -> VerdictRow:
    return VerdictRow(**{"verdict_key": key, "run_name": "r", "problem_id": key, "attempt": 1, "judge": "rule",
                         "verdict": verdict, "decided": True, **fields})


def outcome(problem: str, status: str) -> OutcomeRow:
    return OutcomeRow(run_name="r", problem_id=problem, status=status, reason=None, attempts=1)


def run_with_writer(store, body):
    async def main():
        writer = AsyncWriter(store)
        try:
            return await body(writer)
        finally:
            await writer.close()
    return asyncio.run(main())


def test_a_stored_row_reads_back_equal_and_a_missing_key_is_none(store):
    row = verdict("a", params={"temperature": 0.0}, messages=[{"role": "user", "content": "x"}])

    async def body(writer):
        assert await writer.get(VerdictRow, "a") is None
        await writer.insert(row)
        return await writer.get(VerdictRow, "a")

    assert run_with_writer(store, body) == row


def test_conflicts_follow_the_model_policy(store):
    async def body(writer):
        await writer.insert(verdict("a", "correct"), outcome("p", "failed"))
        await writer.insert(verdict("a", "incorrect"), outcome("p", "accepted"))  # a replayed node, a redone problem

    run_with_writer(store, body)
    assert store.scalar("SELECT verdict FROM verdicts WHERE verdict_key = 'a'") == "correct"  # ignore: first stands
    assert store.scalar("SELECT status FROM problem_outcomes WHERE problem_id = 'p'") == "accepted"  # replace


def test_one_batch_may_hold_one_key_twice(store):
    rows = [outcome("p", "failed"), verdict("a", "correct"), outcome("p", "abstained"), verdict("a", "incorrect")]
    assert [r.key() for rows in group_rows(rows).values() for r in rows] == [("r", "p"), ("a",)]

    async def body(writer):
        await asyncio.gather(*(writer.insert(r) for r in rows))

    run_with_writer(store, body)
    assert store.scalar("SELECT status FROM problem_outcomes") == "abstained"
    assert store.scalar("SELECT verdict FROM verdicts") == "correct"


def test_a_bad_row_fails_only_its_own_insert(store):
    async def body(writer):
        return await asyncio.gather(writer.insert(outcome("good", "accepted")), writer.insert(outcome("bad", "bogus")),
                                    writer.insert(CallErrorRow(run_name="r", problem_id="good", role="solver",
                                                               attempt=1, call_key="k", error="HTTP 500",
                                                               reason="HTTP 500")),
                                    return_exceptions=True)

    results = run_with_writer(store, body)
    assert results[0] is None and results[2] is None
    assert "CHECK constraint" in str(results[1])
    assert store.scalar("SELECT list(problem_id) FROM problem_outcomes") == ["good"]
    assert store.scalar("SELECT count(*) FROM call_errors") == 1


def test_many_rows_in_one_batch(store):
    rows = [verdict(f"k{i}") for i in range(700)]  # more than one INSERT statement's worth

    async def body(writer):
        await writer.insert(*rows)
        found = await asyncio.gather(*(writer.get(VerdictRow, f"k{i}") for i in (0, 350, 699, 700)))
        return [r and r.verdict_key for r in found]

    assert run_with_writer(store, body) == ["k0", "k350", "k699", None]
    assert store.scalar("SELECT count(*) FROM verdicts") == 700


def test_get_answers_ignore_rows_from_memory_as_stored(store):
    stored = verdict("a", "correct", params={"t": (1, 2)})  # a tuple is stored as JSON: it reads back as a list

    async def body(writer):
        await writer.insert(stored)
        store.cursor().execute("UPDATE verdicts SET reason = 'changed behind the writer'")  # no query is made
        first = await writer.get(VerdictRow, "a")
        await writer.insert(verdict("a", "incorrect"), verdict("b", "incorrect"))  # a conflict: "a" stays
        await writer.insert(verdict("c", "correct"))
        return first, await writer.get(VerdictRow, "a"), await writer.get(VerdictRow, "b")

    first, again, other = run_with_writer(store, body)
    assert first.params == {"t": [1, 2]} and first.reason is None
    assert again.verdict == "correct" and other.verdict == "incorrect"


def test_rows_that_may_change_are_read_from_the_store(store):
    run = RunRow(run_name="r", kind="corpus", status="running", manifest={})

    async def body(writer):
        await writer.insert(run)
        store.cursor().execute("UPDATE runs SET status = 'done'")
        return await writer.get(RunRow, "r")

    assert run_with_writer(store, body).status == "done"


def test_a_busy_writer_lingers_and_still_fails_only_the_bad_item(store):
    async def body(writer):
        writes = [writer.insert(outcome(f"p{i}", "bogus" if i == 7 else "accepted")) for i in range(40)]
        reads = [writer.get(VerdictRow, f"k{i}") for i in range(40)]
        return await asyncio.gather(*writes, *reads, return_exceptions=True)

    async def lingering(writer):
        writer.linger = 0.05
        return await body(writer)

    results = run_with_writer(store, lingering)
    assert [i for i, r in enumerate(results) if r is not None] == [7]
    assert store.scalar("SELECT count(*) FROM problem_outcomes") == 39


def test_get_needs_a_single_column_key(store):
    async def body(writer):
        await writer.get(OutcomeRow, ("r", "p"))

    with pytest.raises(ValueError, match="not keyed by one column"):
        run_with_writer(store, body)


# -- the synchronous path ------------------------------------------------------------------------------------
def test_insert_applies_each_models_policy_in_the_callers_transaction(store):
    with store.transaction() as tx:
        insert(tx, verdict("a", "correct"), outcome("p", "failed"), verdict("a", "incorrect"))
        insert(tx, outcome("p", "accepted"), SourceRow(name="s", format="csv"))
    assert store.scalar("SELECT verdict FROM verdicts") == "correct"  # ignore
    assert store.scalar("SELECT status FROM problem_outcomes") == "accepted"  # replace
    with pytest.raises(duckdb.ConstraintException), store.transaction() as tx:  # error: a key that must be new
        insert(tx, SourceRow(name="t", format="csv"), SourceRow(name="t", format="jsonl"))
    with pytest.raises(duckdb.ConstraintException), store.transaction() as tx:
        insert(tx, SourceRow(name="u", format="csv"))
        insert(tx, SourceRow(name="s", format="csv"))
    assert store.scalar("SELECT list(name) FROM sources") == ["s"]  # the failed transactions left nothing


def test_insert_returning_gives_the_generated_id_and_json_round_trips(store):
    job = JobRow(kind="study", run_name="r", config={"note": "é", "stages": ["corpus"]}, status="queued")
    first, second = (insert_returning(store.cursor(), job, "job_id") for _ in range(2))
    assert second == first + 1
    (record,) = store.query("SELECT * FROM jobs WHERE job_id = ?", [first])
    assert JobRow.from_record(record) == job


def test_put_rows_read_back_at_once_and_commit_before_what_runs_after_them(store):
    seen = []

    async def body(writer):
        writer.put(verdict("a"), outcome("p", "accepted"))
        assert await writer.get(VerdictRow, "a") == verdict("a")  # before any commit
        counted = store.cursor()  # another connection: sees only what is committed
        await writer.after_rows(lambda: seen.append(counted.execute("SELECT count(*) FROM verdicts").fetchone()[0]))
        await writer.flush()

    run_with_writer(store, body)
    assert seen == [1]
    assert store.scalar("SELECT status FROM problem_outcomes WHERE problem_id = 'p'") == "accepted"


def test_a_failed_put_is_raised_by_every_later_flush_and_nothing_runs_after_it(store):
    ran = []

    async def body(writer):
        writer.put(outcome("bad", "bogus"))
        for _ in range(2):
            with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
                await writer.flush()
        with pytest.raises(duckdb.ConstraintException):
            await writer.after_rows(lambda: ran.append(1))

    with pytest.raises(duckdb.ConstraintException):  # and when the writer closes
        run_with_writer(store, body)
    assert ran == [] and store.scalar("SELECT count(*) FROM problem_outcomes") == 0


def test_a_failed_put_nobody_flushed_is_raised_when_the_writer_closes(store):
    async def body(writer):
        writer.put(outcome("bad", "bogus"))

    with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
        run_with_writer(store, body)


def test_an_indexed_model_answers_keys_the_run_never_stored_without_a_read(store):
    async def stored_first(writer):
        await writer.insert(verdict("old"), verdict("other", run_name="s"))

    run_with_writer(store, stored_first)
    reads = []

    async def body(writer):
        writer.index(VerdictRow, "r")
        original = writer._read
        writer._read = lambda cur, batch: reads.append(len(batch)) or original(cur, batch)
        assert await writer.get(VerdictRow, "new") is None and reads == []  # never stored: no read
        writer.put(verdict("new"))
        assert await writer.get(VerdictRow, "new") == verdict("new")
        writer.known.clear()  # forgotten rows: read from the store
        assert (await writer.get(VerdictRow, "old")).verdict_key == "old" and reads == [1]
        assert await writer.get(VerdictRow, "other") is None  # by design: the index speaks for its run alone

    run_with_writer(store, body)
