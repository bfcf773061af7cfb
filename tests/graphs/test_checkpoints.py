"""The group-commit checkpoint saver: a graph resumes from it as from LangGraph's own saver (same file, same
reads), concurrent threads share commits, a failed commit is raised by every later write, and fresh threads cost no
read."""

import asyncio
import operator
import sqlite3
from typing import Annotated, TypedDict

import aiosqlite
import pytest
from distill.graphs.checkpoints import delete_threads, open_checkpointer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    steps: Annotated[list[str], operator.add]


def graph_builder(fail_at: str | None = None) -> StateGraph:
    builder = StateGraph(State)
    for name in ("a", "b", "c"):
        async def node(state: State, name=name) -> dict:
            if name == fail_at:
                raise RuntimeError(f"crash in {name}")
            return {"steps": [name]}
        builder.add_node(name, node)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder


def config(thread: str) -> dict:
    return {"configurable": {"thread_id": thread}}


def test_a_crashed_thread_resumes_and_the_stock_saver_reads_the_same_file(tmp_path):
    path = tmp_path / "c.sqlite"

    async def crash_then_resume():
        async with open_checkpointer(path) as saver:
            with pytest.raises(RuntimeError, match="crash in c"):
                await graph_builder(fail_at="c").compile(checkpointer=saver).ainvoke({"steps": []}, config("t"))
        async with open_checkpointer(path) as saver:  # a new process: resume where it stopped
            graph = graph_builder().compile(checkpointer=saver)
            assert (await graph.aget_state(config("t"))).next == ("c",)
            final = await graph.ainvoke(None, config("t"))
        async with aiosqlite.connect(str(path)) as conn:
            stock = AsyncSqliteSaver(conn)
            stored = await stock.aget_tuple(config("t"))
        return final, stored

    final, stored = asyncio.run(crash_then_resume())
    assert final["steps"] == ["a", "b", "c"]
    assert stored.checkpoint["channel_values"]["steps"] == ["a", "b", "c"]


def test_threads_in_flight_share_commits_and_every_checkpoint_is_stored(tmp_path):
    commits = 0

    async def run():
        nonlocal commits
        async with open_checkpointer(tmp_path / "c.sqlite") as saver:
            write = saver.run_write

            async def counted(group):
                nonlocal commits
                commits += 1
                await write(group)
            saver.run_write = counted
            graph = graph_builder().compile(checkpointer=saver)
            await asyncio.gather(*(graph.ainvoke({"steps": []}, config(f"t{i}")) for i in range(50)))
            await saver.drain()
            async with saver.conn.execute("SELECT count(DISTINCT thread_id), count(*) FROM checkpoints") as cur:
                return await cur.fetchone()

    threads, checkpoints = asyncio.run(run())
    assert threads == 50 and checkpoints == 50 * 5  # input, a, b, c and the end, per thread
    assert commits < 50 * 4  # the stock saver commits each checkpoint and each task's writes on its own


def test_a_failed_commit_is_raised_by_every_later_write_and_when_drained(tmp_path):
    async def run():
        async with open_checkpointer(tmp_path / "c.sqlite") as saver:
            await saver.setup()
            saver._queue("INSERT INTO no_such_table VALUES (?)", [(1,)])
            with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
                await saver.drain()
            with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
                await graph_builder().compile(checkpointer=saver).ainvoke({"steps": []}, config("t"))

    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):  # and when the saver closes
        asyncio.run(run())


def test_checkpoints_commit_after_the_rows_queued_before_them(tmp_path):
    order = []

    async def run():
        async with open_checkpointer(tmp_path / "c.sqlite") as saver:
            async def after_rows(write):
                order.append("rows committed")
                await asyncio.to_thread(write)
                order.append("checkpoints committed")
            saver.run_write = after_rows
            await graph_builder().compile(checkpointer=saver).ainvoke({"steps": []}, config("t"))
            await saver.drain()

    asyncio.run(run())
    assert order and order[0] == "rows committed"
    assert all(a != b for a, b in zip(order, order[1:], strict=False))  # every group waits its turn


def test_known_threads_spare_the_reads_of_fresh_ones(tmp_path):
    async def run():
        async with open_checkpointer(tmp_path / "c.sqlite") as saver:
            graph = graph_builder().compile(checkpointer=saver)
            await graph.ainvoke({"steps": []}, config("old"))
            saver.know_threads({"old"})
            reads = []
            original = saver.conn.cursor
            saver.conn.cursor = lambda *a: reads.append(1) or original(*a)
            assert await saver.aget_tuple(config("fresh")) is None and reads == []
            await graph.ainvoke({"steps": []}, config("fresh"))
            assert reads == []  # its first read found nothing without a query
            assert (await saver.aget_tuple(config("fresh"))) is not None and reads  # written since: read
            assert (await saver.aget_tuple(config("old"))) is not None
            delete_threads(saver, ["old"])
            await saver.drain()
            async with saver.conn.execute("SELECT DISTINCT thread_id FROM checkpoints") as cur:
                stored = {row[0] for row in await cur.fetchall()}
            return saver.threads, stored

    assert asyncio.run(run()) == ({"fresh"}, {"fresh"})


def test_closing_waits_for_a_group_being_written_and_a_later_group_fails_cleanly(tmp_path):
    """A run cancelled (Ctrl-C, a crash) closes the file while the store's writer thread may be writing a group:
    closing waits for it, and a group whose turn comes after fails instead of touching a closed connection."""
    import threading

    writing, release, order = threading.Event(), threading.Event(), []

    async def run():
        async with open_checkpointer(tmp_path / "c.sqlite") as saver:
            await saver.setup()

            def slow_thread(write):
                with saver._writing:  # as a group's write holds it
                    writing.set()
                    release.wait(5)
                    order.append("written")
                return write

            holder = threading.Thread(target=slow_thread, args=(None,))
            holder.start()
            writing.wait(5)
            threading.Timer(0.2, release.set).start()
            return saver, holder

    saver, holder = asyncio.run(run())  # leaving the context closes the file: after the write, not during it
    order.append("closed")
    holder.join()
    assert order == ["written", "closed"]

    async def now(write):
        write()
    saver.run_write = now
    late = asyncio.run(saver._write([("DELETE FROM writes WHERE thread_id = ?", [("t",)])]))  # its turn came late
    assert isinstance(late, sqlite3.ProgrammingError) and "closed" in str(late)
