"""Endpoint work of an evaluation, as stages of the one runner (graphs.runner): the teacher answering a problem
set, and the judge deciding what the rule could not. Calls are keyed and limited by graphs.calls; a stored row
is the cache (a rerun finds it and makes no call); failures are in `call_errors` and retried by the next run.

    teacher:  START ──▶ answer ──▶ END        (one thread per problem)
    judge:    START ──▶ judge  ──▶ END        (one thread per undecided answer)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict

from distill.agents.judge import JudgeVerdict, judge_messages, parse_judge
from distill.agents.prompts import Prompt
from distill.agents.student import STUDENT_SYSTEM_PROMPT, student_messages
from distill.evaluation.grading import answer_row
from distill.graphs.calls import Caller, Role, usage
from distill.graphs.offload import off_loop
from distill.graphs.runner import Pacing, Tally, run_stage
from distill.store import Store
from distill.store.evaluation import stored_judgement_keys, stored_problem_ids, undecided_items
from distill.store.rows import EvalItemRow, JudgementRow, Row
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime


def student_prompt() -> Prompt:
    """The student's chat format as a prompt: what the teacher is asked in evaluation, exactly as a student is.
    Its content hash goes into every call key."""
    user = "{{question}}"
    return Prompt(role="student", path="agents/student.py", text=f"{STUDENT_SYSTEM_PROMPT}\n{user}",
                  sections={"system": STUDENT_SYSTEM_PROMPT, "user": user})


class AnswerState(TypedDict, total=False):
    problem_id: str
    question: str
    answer: str  # the gold answer
    truncated: bool


class JudgeState(TypedDict, total=False):
    evaluation_id: int
    problem_id: str
    key: str
    question: str
    gold: str
    response: str
    answer: str | None
    verdict: str


@dataclass(frozen=True)
class TeacherContext:
    """What the teacher's node runs with."""

    caller: Caller
    role: Role
    run_name: str
    evaluation_id: int


@dataclass(frozen=True)
class JudgeContext:
    """What the judge's node runs with."""

    caller: Caller
    role: Role


async def answer(state: AnswerState, runtime: Runtime[TeacherContext]) -> dict[str, Any]:
    """The teacher answers one problem as a student is asked it; the answer is graded off the event loop."""
    caller, role, run_name = runtime.context.caller, runtime.context.role, runtime.context.run_name
    messages = student_messages(state["question"])
    key = role.key(run_name, state["problem_id"], "answer")
    completion = await caller(role, messages, key, state["problem_id"], 1)
    truncated = completion.finish_reason == "length"
    row = await off_loop(partial(answer_row, completion.content, state["answer"], truncated=truncated,
                                 reasoning=completion.reasoning if completion.reasoning_source else None,
                                 question=state["question"]))
    calls = usage(completion)
    await caller.writer.insert(EvalItemRow(
        evaluation_id=runtime.context.evaluation_id, problem_id=state["problem_id"], **row,
        finish_reason=completion.finish_reason, prompt_tokens=calls["prompt_tokens"],
        tokens=calls["completion_tokens"], latency_ms=calls["latency_ms"], batch_size=1, call_key=key))
    return {"truncated": truncated}


async def judge(state: JudgeState, runtime: Runtime[JudgeContext]) -> dict[str, Any]:
    """The judge reads one answer the rule left undecided."""
    caller, role = runtime.context.caller, runtime.context.role
    messages = judge_messages(role.prompt, state["question"], state["gold"], state["response"], state["answer"])
    completion = await caller(role, messages, state["key"], state["problem_id"], 1)
    reading = parse_judge(completion.content)
    await caller.writer.insert(JudgementRow(
        call_key=state["key"], evaluation_id=state["evaluation_id"], problem_id=state["problem_id"],
        model=role.model, params=role.params, prompt_version=role.prompt.version, messages=messages,
        content=completion.content, verdict=str(reading.verdict), reason=reading.reason, **usage(completion)))
    return {"verdict": str(reading.verdict)}


def single_node_builder(state: type, context: type, name: str, node: Any) -> StateGraph:
    builder = StateGraph(state, context_schema=context)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder


teacher_builder = single_node_builder(AnswerState, TeacherContext, "answer", answer)
judge_builder = single_node_builder(JudgeState, JudgeContext, "judge", judge)


class TeacherStage:
    """An endpoint model answers the problems of one evaluation (one `eval_items` row each, keyed by problem)."""

    outcomes = ("answered", "truncated", "failed")
    builder = teacher_builder
    indexed = ()
    recursion_limit = 8

    def __init__(self, store: Store, evaluation: dict[str, Any], problems: list[dict[str, Any]], role: Role):
        self.store, self.evaluation, self.problems, self.role = store, evaluation, problems, role
        self.evaluation_id = evaluation["evaluation_id"]
        self.run_name = f"{evaluation['run_name']}:eval:{self.evaluation_id}"

    def roles(self) -> list[Role]:
        return [self.role]

    def pending(self) -> list[dict[str, Any]]:
        done = self.finished()
        return [p for p in self.problems if p["problem_id"] not in done]

    def item_key(self, item: dict[str, Any]) -> str:
        return item["problem_id"]

    def finished(self) -> set[str]:
        return stored_problem_ids(self.store, self.evaluation_id)

    def context(self, caller: Caller) -> TeacherContext:
        return TeacherContext(caller, self.role, self.run_name, self.evaluation_id)

    def initial_state(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in ("problem_id", "question", "answer")}

    def outcome(self, final_state: dict[str, Any]) -> str:
        return "truncated" if final_state.get("truncated") else "answered"

    def failure(self, item: dict[str, Any], reason: str) -> list[Row]:
        return []  # the error is in call_errors; the next run asks again


def judgement_key(role: Role, run_name: str, item: dict[str, Any]) -> str:
    """Keyed by the judge (model, prompt, params) and by what it judges (the response and its answer)."""
    judged = hashlib.sha256(f"{item['response']}\x00{item['answer']}".encode()).hexdigest()[:16]
    return role.key(run_name, f"{item['evaluation_id']}/{item['problem_id']}", judged)


class JudgeStage:
    """The judge reads every answer of the given evaluations that the rule left undecided and that this judge
    (model, prompt, params) has not judged yet: one item per answer, keyed '<evaluation_id>/<problem_id>'."""

    outcomes = ("correct", "incorrect", "unparseable", "failed")
    builder = judge_builder
    indexed = ()
    recursion_limit = 8

    def __init__(self, store: Store, run_name: str, evaluation_ids: list[int], role: Role):
        self.store, self.evaluation_ids, self.role = store, evaluation_ids, role
        self.run_name = f"{run_name}:eval-judge"

    def roles(self) -> list[Role]:
        return [self.role]

    def _items(self) -> list[dict[str, Any]]:
        items = undecided_items(self.store, self.evaluation_ids)
        for item in items:
            item["key"] = judgement_key(self.role, self.run_name, item)
        return items

    def item_key(self, item: dict[str, Any]) -> str:
        return f"{item['evaluation_id']}/{item['problem_id']}"

    def pending(self) -> list[dict[str, Any]]:
        stored = stored_judgement_keys(self.store, self.evaluation_ids)
        return [item for item in self._items() if item["key"] not in stored]

    def finished(self) -> set[str]:
        stored = stored_judgement_keys(self.store, self.evaluation_ids)
        return {self.item_key(item) for item in self._items() if item["key"] in stored}

    def context(self, caller: Caller) -> JudgeContext:
        return JudgeContext(caller, self.role)

    def initial_state(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in JudgeState.__annotations__ if k in item}

    def outcome(self, final_state: dict[str, Any]) -> str:
        verdict = final_state.get("verdict")
        return verdict if verdict in (JudgeVerdict.CORRECT, JudgeVerdict.INCORRECT) else "unparseable"

    def failure(self, item: dict[str, Any], reason: str) -> list[Row]:
        return []


async def answer_with_endpoint(store: Store, evaluation: dict[str, Any], problems: list[dict[str, Any]], role: Role,
                               pacing: Pacing, on_progress=None) -> Tally:
    """The teacher (any endpoint) answers the evaluation's problems not answered yet."""
    return await run_stage(store, TeacherStage(store, evaluation, problems, role), pacing, on_progress=on_progress)


async def judge_undecided(store: Store, run_name: str, evaluation_ids: list[int], role: Role, pacing: Pacing,
                          on_progress=None) -> Tally:
    """The judge decides, where it can, the answers the rule left undecided."""
    return await run_stage(store, JudgeStage(store, run_name, evaluation_ids, role), pacing, on_progress=on_progress)
