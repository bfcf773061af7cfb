"""Reasoning levels, one LangGraph thread per accepted corpus row:

    seed (R1 = the accepted reasoning) ──▶ compress ──▶ decide ──▶ next level | retry | end
                                              ▲            │
                                              └────────────┘

Each of R2..R6 is compressed from the last good level toward its word budget and kept only if it passes the
checks in agents/compressor.py. A rewrite that passes them but falls below the next level's budget (the floor)
is kept as a fallback while the compressor tries again, so that the ladder keeps room for the levels below;
after `max_attempts` the longest fallback becomes the level, or, with none, the level is recorded as failed with
the reason (never copied from the level before), and the next level is compressed from the last good one.
Runs on graphs.runner; the graph is built at import (`graph`, drawn by `distill graph levels`), and a run invokes
it with its `LevelNodes` as the context.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from distill.agents.compressor import (
    DEFAULT_RATIOS,
    LEVELS,
    compressor_messages,
    count_words,
    floor_words,
    instruction_text,
    read_compression,
    target_words,
)
from distill.agents.endpoints import LOCAL_TEACHER_SAMPLING, EndpointConfig, LocalSampling
from distill.graphs.calls import Caller, Role, usage
from distill.graphs.offload import off_loop
from distill.graphs.runner import Pacing, Tally, run_stage
from distill.store import Store
from distill.store.corpus import register_run, set_run_status
from distill.store.levels import level_tokens_spent, levels_to_build, problems_with_all_levels
from distill.store.manifest import distill_version, git_sha, package_versions
from distill.store.rows import LevelAttemptRow, LevelRow, Row
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, Field

TokenCounter = Callable[[str], int | None]


class LevelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    compressor: EndpointConfig | None = Field(None, description="None: the local default teacher.")
    local_sampling: LocalSampling = Field(LOCAL_TEACHER_SAMPLING, description="Sampling of the local teacher "
                                           "(used when no compressor endpoint is configured).")
    prompts_dir: str | None = None
    compressor_prompt: str | None = None
    ratios: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RATIOS))
    max_attempts: int = Field(4, ge=1, le=10)
    up_to: Literal["R2", "R3", "R4", "R5", "R6"] = Field("R6", description="The last level made.")
    limit: int | None = Field(None, gt=0)
    pacing: Pacing = Pacing()


class LevelsState(TypedDict, total=False):
    problem_id: str
    question: str
    truth: str
    answer: str  # the accepted answer, which every level keeps
    reasoning: str  # R1: the accepted reasoning
    level: str  # the level being made, R2..R6, or "done"
    base_level: str  # the last good level, which it is compressed from
    base_text: str
    base_words: int
    r1_words: int
    attempt: int
    feedback: str | None
    last: str | None  # the newest compressor reply, checked (its key in level_attempts)
    fallback: str | None  # the longest usable reply below the floor so far, for this level (its key)
    failed: int


@dataclass
class LevelNodes:
    call: Caller
    compressor: Role
    corpus_run: str
    ratios: dict[str, float]
    max_attempts: int
    count_tokens: TokenCounter
    up_to: str = LEVELS[-1]

    def target(self, state: dict[str, Any]) -> int:
        return target_words(state["r1_words"], state["level"], self.ratios, state["base_level"], state["base_words"])

    def floor(self, state: dict[str, Any]) -> int:
        return floor_words(state["r1_words"], state["level"], self.ratios, state["base_level"], state["base_words"])

    async def seed(self, state: dict[str, Any]) -> dict[str, Any]:
        text = state["reasoning"]
        words = count_words(text)
        await self.call.writer.insert(LevelRow(
            run_name=self.corpus_run, problem_id=state["problem_id"], level="R1", status="ok", text=text,
            answer=state["answer"], words=words, tokens=self.count_tokens(text), target_words=None,
            source_level=None, attempts=1, reason=None, call_key=None))
        return {"level": "R2", "base_level": "R1", "base_text": text, "base_words": words, "r1_words": words,
                "attempt": 1, "feedback": None, "last": None, "fallback": None, "failed": 0}

    async def compress(self, state: dict[str, Any]) -> dict[str, Any]:
        level, attempt = state["level"], state["attempt"]
        key = self.compressor.key(self.call.run_name, state["problem_id"], f"{level}#{attempt}")
        row = await self.call.writer.get(LevelAttemptRow, key)
        if row is None:
            target = self.target(state)
            messages = compressor_messages(self.compressor.prompt, state["question"], state["base_text"],
                                           state["answer"], level, target, state["feedback"])
            completion = await self.call(self.compressor, messages, key, state["problem_id"], attempt)
            result = await off_loop(read_compression, completion, state["truth"], state["base_words"], level,
                                    self.floor(state), instruction_text(messages))
            row = LevelAttemptRow(
                call_key=key, run_name=self.corpus_run, problem_id=state["problem_id"], level=level, attempt=attempt,
                model=self.compressor.model, params=self.compressor.params,
                prompt_version=self.compressor.prompt.version, messages=messages, content=completion.content,
                text=result.text, answer=result.answer, words=result.words, usable=result.usable,
                passed=result.passed, reason=result.reason, **usage(completion))
            await self.call.writer.insert(row)
        return {"last": key}

    async def decide(self, state: dict[str, Any]) -> dict[str, Any]:
        level, attempt = state["level"], state["attempt"]
        last, fallback = await asyncio.gather(self._reply(state["last"]), self._reply(state.get("fallback")))
        if last.usable and not last.passed and (fallback is None or last.words > fallback.words):
            fallback = last
        if not last.passed and attempt < self.max_attempts:
            return {"attempt": attempt + 1, "feedback": last.reason, "fallback": fallback and fallback.call_key}
        chosen = last if last.passed else fallback
        following = LEVELS[LEVELS.index(level) + 1] if level != self.up_to else "done"
        update = {"level": following, "attempt": 1, "feedback": None, "last": None, "fallback": None}
        if chosen is not None:
            made = {"status": "ok", "text": chosen.text, "answer": chosen.answer, "words": chosen.words,
                    "tokens": self.count_tokens(chosen.text), "reason": None}
            update.update(base_level=level, base_text=chosen.text, base_words=chosen.words)
        else:
            made = {"status": "failed", "text": None, "answer": None, "words": None, "tokens": None,
                    "reason": f"{attempt} attempt(s): {last.reason}"}
            update["failed"] = state["failed"] + 1
        await self.call.writer.insert(LevelRow(
            run_name=self.corpus_run, problem_id=state["problem_id"], level=level, target_words=self.target(state),
            source_level=state["base_level"], attempts=attempt, call_key=(chosen or last).call_key, **made))
        return update

    async def _reply(self, key: str | dict[str, Any] | None) -> LevelAttemptRow | None:
        """A stored compressor reply by key (a checkpoint of an older distill holds the reply itself)."""
        if isinstance(key, dict):
            key = key["call_key"]
        return None if key is None else await self.call.writer.get(LevelAttemptRow, key)


async def seed(state: LevelsState, runtime: Runtime[LevelNodes]) -> dict[str, Any]:
    return await runtime.context.seed(state)


async def compress(state: LevelsState, runtime: Runtime[LevelNodes]) -> dict[str, Any]:
    return await runtime.context.compress(state)


async def decide(state: LevelsState, runtime: Runtime[LevelNodes]) -> dict[str, Any]:
    return await runtime.context.decide(state)


# Routers are coroutines: LangGraph runs a plain function in a thread pool, a thread hop for every edge taken.
async def after_decide(state: LevelsState) -> str:
    return END if state["level"] == "done" else "compress"


builder = StateGraph(LevelsState, context_schema=LevelNodes)
builder.add_node("seed", seed)
builder.add_node("compress", compress)
builder.add_node("decide", decide)
builder.add_edge(START, "seed")
builder.add_edge("seed", "compress")
builder.add_edge("compress", "decide")
builder.add_conditional_edges("decide", after_decide, ["compress", END])
graph = builder.compile()


class LevelsStage:
    """One item per accepted corpus row, keyed by its problem id; see graphs.runner.Stage."""

    outcomes = ("complete", "partial", "failed")
    builder = builder
    indexed = ()

    def __init__(self, store: Store, corpus_run: str, config: LevelsConfig, compressor: Role,
                 count_tokens: TokenCounter):
        self.store, self.corpus_run, self.config, self.compressor = store, corpus_run, config, compressor
        self.count_tokens = count_tokens
        self.run_name = f"{corpus_run}:levels"
        self.recursion_limit = 2 * len(LEVELS) * (config.max_attempts + 1) + 8

    def roles(self) -> list[Role]:
        return [self.compressor]

    def pending(self) -> list[dict[str, Any]]:
        return levels_to_build(self.store, self.corpus_run, self.level_count, self.config.limit)

    def item_key(self, item: dict[str, Any]) -> str:
        return item["problem_id"]

    def finished(self) -> set[str]:
        return problems_with_all_levels(self.store, self.corpus_run, self.level_count)

    @property
    def level_count(self) -> int:
        return LEVELS.index(self.config.up_to) + 1

    def context(self, caller: Caller) -> LevelNodes:
        return LevelNodes(caller, self.compressor, self.corpus_run, self.config.ratios, self.config.max_attempts,
                          self.count_tokens, self.config.up_to)

    def initial_state(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**item}

    def outcome(self, final_state: dict[str, Any]) -> str:
        return "partial" if final_state.get("failed") else "complete"

    def failure(self, item: dict[str, Any], reason: str) -> list[Row]:
        return []  # the endpoint error is in call_errors; the missing levels are made by the next run

    def identity(self) -> dict[str, Any]:
        return {"compressor": self.compressor.identity(), "ratios": self.config.ratios,
                "max_attempts": self.config.max_attempts}  # up_to may grow: later levels build on earlier ones

    def manifest(self) -> dict[str, Any]:
        prompt = self.compressor.prompt
        return {"config": self.config.model_dump(mode="json"), "corpus_run": self.corpus_run,
                "endpoints": {"compressor": {"model": self.compressor.model, "base_url": self.compressor.base_url}},
                "prompts": {"compressor": {"path": prompt.path, "version": prompt.version, "sha256": prompt.sha256}},
                "packages": package_versions(), "distill_version": distill_version(), "git_sha": git_sha()}


async def run_levels(store: Store, corpus_run: str, config: LevelsConfig, compressor: Role,
                     count_tokens: TokenCounter, on_progress=None) -> Tally:
    """Make (or resume) R1..R6 for every accepted row of the corpus run `corpus_run`."""
    if not store.scalar("SELECT count(*) FROM runs WHERE run_name = ? AND kind = 'corpus'", [corpus_run]):
        raise ValueError(f"no corpus run {corpus_run!r}: build it first (`distill build --run {corpus_run}`)")
    stage = LevelsStage(store, corpus_run, config, compressor, count_tokens)
    register_run(store, stage.run_name, "levels", stage.manifest(), stage.identity())
    tally = await run_stage(store, stage, config.pacing, level_tokens_spent(store, corpus_run), on_progress)
    set_run_status(store, stage.run_name, "complete" if tally.failed == 0 and not tally.stopped else "incomplete")
    return tally
