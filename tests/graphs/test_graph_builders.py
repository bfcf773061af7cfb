"""The graphs are module-level builders: compiled at import without a store or clients, testable alone with any
context, and every stage meets the runner's Stage protocol with an explicit item key."""

import asyncio

from distill.evaluation.endpoint_stages import JudgeStage, TeacherStage
from distill.graphs import corpus, levels
from distill.graphs.config import CorpusConfig
from distill.graphs.corpus_run import CorpusStage
from distill.graphs.levels import LevelsConfig, LevelsStage
from distill.graphs.runner import Stage

from tests.support.corpus_fakes import scripted_role


def edges(graph):
    return {(e.source, e.target, e.conditional) for e in graph.get_graph().edges}


def test_the_graphs_compile_at_import_without_a_store_or_clients():
    assert set(corpus.graph.get_graph().nodes) == {"__start__", "solve", "critique", "decide", "__end__"}
    assert ("critique", "decide", False) in edges(corpus.graph)
    assert {("solve", "critique", True), ("solve", "decide", True), ("decide", "solve", True)} <= edges(corpus.graph)
    assert {("seed", "compress", False), ("decide", "compress", True)} <= edges(levels.graph)


class ScriptedLoop:
    """A context for the corpus graph alone: no store, no model; wrong first, right on the retry."""

    def __init__(self, critic):
        self.critic, self.visited = critic, []

    async def solve(self, state):
        self.visited.append("solve")
        answer = "41" if state["attempt"] == 1 else "42"
        return {"attempt_status": "ok", "answer": answer, "rule": "correct" if answer == "42" else "incorrect"}

    async def critique(self, state):
        self.visited.append("critique")
        return {"critic": "accept"}

    async def decide(self, state):
        self.visited.append("decide")
        return {"outcome": "accepted"} if state["rule"] == "correct" else {"attempt": state["attempt"] + 1}


def test_the_corpus_graph_runs_alone_with_any_context():
    for critic, path in [(None, ["solve", "decide"]), ("a critic", ["solve", "critique", "decide"])]:
        context = ScriptedLoop(critic)
        final = asyncio.run(corpus.graph.ainvoke({"attempt": 1, "tokens": 0}, context=context))
        assert final["outcome"] == "accepted" and final["answer"] == "42"
        assert context.visited == path * 2


def test_every_stage_meets_the_protocol_and_names_its_items(store):
    role = scripted_role("solver", lambda m: "")
    item = {"evaluation_id": 3, "problem_id": "toy/p1"}
    stages = [
        CorpusStage(store, "r", CorpusConfig(critic_mode="rule"), role, None),
        LevelsStage(store, "r", LevelsConfig(), role, lambda text: None),
        TeacherStage(store, {"evaluation_id": 3, "run_name": "r"}, [], role),
        JudgeStage(store, "r", [3], role),
    ]
    assert all(isinstance(stage, Stage) for stage in stages)
    assert [stage.item_key(item) for stage in stages] == ["toy/p1", "toy/p1", "toy/p1", "3/toy/p1"]
    judged = stages[-1].initial_state({**item, "key": "k", "question": "q", "gold": "1", "response": "1",
                                       "answer": "1"})
    assert judged["problem_id"] == "toy/p1"  # the judge's own ids are kept; the runner keys its thread
