"""The corpus loop, one LangGraph thread per (run, problem):

    solve + rule check ──▶ critique (LLM) ──▶ decide ──▶ accept | abstain
      ▲                                         │
      └─────── retry, the critique as feedback ◀┘

`solve` checks its answer against the truth by rule as soon as it has one (math equivalence: no model, so no step
of its own, which would cost a checkpoint per attempt). A failed attempt (cut off, empty, no final answer) goes
straight to decide. In critic mode `rule` there is no critique; in `llm` the critic decides; in `cascade` the rule
decides when it can and the critic otherwise.

The graph is built here, at import, without a store or clients: `graph` can be drawn (`distill graph corpus`),
tested alone and loaded by LangGraph tooling. A run compiles `builder` with its checkpointer and invokes it with
its `CorpusNodes` as the context (LangGraph's `Runtime`); node bodies live in graphs/corpus_nodes.py.
"""

from __future__ import annotations

from typing import Any, TypedDict

from distill.graphs.corpus_nodes import CorpusNodes
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime


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


async def solve(state: CorpusState, runtime: Runtime[CorpusNodes]) -> dict[str, Any]:
    return await runtime.context.solve(state)


async def critique(state: CorpusState, runtime: Runtime[CorpusNodes]) -> dict[str, Any]:
    return await runtime.context.critique(state)


async def decide(state: CorpusState, runtime: Runtime[CorpusNodes]) -> dict[str, Any]:
    return await runtime.context.decide(state)


# Routers are coroutines: LangGraph runs a plain function in a thread pool, a thread hop for every edge taken.
async def after_solve(state: CorpusState, runtime: Runtime[CorpusNodes]) -> str:
    return "critique" if state["attempt_status"] == "ok" and runtime.context.critic is not None else "decide"


async def after_decide(state: CorpusState) -> str:
    return END if state.get("outcome") else "solve"


builder = StateGraph(CorpusState, context_schema=CorpusNodes)
builder.add_node("solve", solve)
builder.add_node("critique", critique)
builder.add_node("decide", decide)
builder.add_edge(START, "solve")
builder.add_conditional_edges("solve", after_solve, ["critique", "decide"])
builder.add_edge("critique", "decide")
builder.add_conditional_edges("decide", after_decide, ["solve", END])
graph = builder.compile()


def initial_state(problem: dict[str, Any]) -> CorpusState:
    return CorpusState(problem_id=problem["problem_id"], question=problem["question"], truth=problem["answer"],
                       attempt=1, tokens=0, answer=None, critique=None, outcome=None)
