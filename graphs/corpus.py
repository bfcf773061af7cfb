"""The corpus loop, one LangGraph thread per (run, problem):

    solve ──▶ check (rule) ──▶ critique (LLM) ──▶ decide ──▶ accept | abstain
      ▲                                              │
      └────────── retry, the critique as feedback ◀──┘

A failed attempt (cut off, empty, no final answer) goes straight to decide. In critic mode `rule` there is no
critique; in `llm` the critic decides; in `cascade` the rule decides when it can and the critic otherwise.
Node bodies live in graphs/corpus_nodes.py.
"""

from __future__ import annotations

from typing import Any, TypedDict

from distill.graphs.corpus_nodes import CorpusNodes
from langgraph.graph import END, START, StateGraph


class CorpusState(TypedDict, total=False):
    problem_id: str
    question: str
    truth: str
    attempt: int  # the attempt being worked on, from 1
    attempt_key: str  # its row in `attempts`
    attempt_status: str  # ok | length | empty | no_answer | no_work
    answer: str | None  # its final answer (the previous attempt's while solving a retry)
    rule: str | None  # correct | incorrect | undecided
    rule_reason: str | None
    rule_compared: str | None  # the normalised answer the rule compared
    critic: str | None  # accept | reject | unparseable
    critique: str | None  # feedback for the next attempt
    tokens: int  # spent on this problem so far
    outcome: str | None  # accepted | abstained
    reason: str | None


def build_corpus_graph(nodes: CorpusNodes, checkpointer: Any = None):
    graph = StateGraph(CorpusState)
    graph.add_node("solve", nodes.solve)
    graph.add_node("check", nodes.check)
    graph.add_node("critique", nodes.critique)
    graph.add_node("decide", nodes.decide)
    graph.add_edge(START, "solve")
    graph.add_conditional_edges("solve", lambda s: "check" if s["attempt_status"] == "ok" else "decide",
                                ["check", "decide"])
    graph.add_conditional_edges("check", lambda s: "decide" if nodes.critic is None else "critique",
                                ["critique", "decide"])
    graph.add_edge("critique", "decide")
    graph.add_conditional_edges("decide", lambda s: END if s.get("outcome") else "solve", ["solve", END])
    return graph.compile(checkpointer=checkpointer)


def initial_state(problem: dict[str, Any]) -> CorpusState:
    return CorpusState(problem_id=problem["problem_id"], question=problem["question"], truth=problem["answer"],
                       attempt=1, tokens=0, answer=None, critique=None, outcome=None)
