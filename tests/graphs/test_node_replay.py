"""A node replayed after a crash (its rows committed, its checkpoint not) finds its rows by key through the
writer: no second call, no change, no conflict error."""

from __future__ import annotations

import asyncio

import pytest
from distill.graphs.calls import Caller
from distill.graphs.corpus import initial_state
from distill.graphs.corpus_nodes import CorpusNodes
from distill.graphs.limits import Limits
from distill.store.writer import AsyncWriter

from tests.support.corpus_fakes import PROBLEMS, calls, scripted_role, seed_problems, solver_by_question

ACCEPT = "VERDICT: ACCEPT\nREASON: the computation is right."
TABLES = ("attempts", "verdicts", "problem_outcomes", "corpus")


def snapshot(store):
    return {t: store.query(f"SELECT * EXCLUDE (created_at) FROM {t} ORDER BY ALL") if t != "problem_outcomes"
            else store.query(f"SELECT * EXCLUDE (updated_at) FROM {t} ORDER BY ALL") for t in TABLES}


def test_every_corpus_node_replays_from_its_rows(store, tmp_path):
    seed_problems(store, tmp_path)
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42"}))
    critic = scripted_role("critic", lambda m: ACCEPT)

    async def once(state):
        writer = AsyncWriter(store)
        nodes = CorpusNodes(Caller("r", writer, Limits()), solver, critic, "llm", max_attempts=2)
        try:
            for node in (nodes.solve, nodes.critique, nodes.decide):
                state = {**state, **await node(state)}
            return state
        finally:
            await writer.close()

    first = asyncio.run(once(initial_state({"problem_id": "p1", **PROBLEMS[0]})))
    assert first["outcome"] == "accepted"
    stored = snapshot(store)
    assert [len(stored[t]) for t in TABLES] == [1, 2, 1, 1]
    solver.client.backend.model.script = critic.client.backend.model.script = lambda m: pytest.fail("a call")
    again = asyncio.run(once(initial_state({"problem_id": "p1", **PROBLEMS[0]})))
    assert again == first
    assert snapshot(store) == stored
    assert (len(calls(solver)), len(calls(critic))) == (1, 1)
