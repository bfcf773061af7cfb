"""The runner every stage uses: one graph thread per work item, bounded concurrency, request limits and a token
budget, SQLite checkpoints beside the store, resume by rerunning, pruning of finished threads, and a tally for
the progress display. A stage (corpus, levels) says what its items, graph and outcomes are."""

from __future__ import annotations

import asyncio
import collections
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from distill.graphs.calls import Caller, ProblemFailed, Role
from distill.graphs.checkpoints import GroupCommitSaver, checkpoint_path, delete_threads, open_checkpointer
from distill.graphs.limits import BudgetExhausted, Limits
from distill.store import Store
from distill.store.rows import Row
from distill.store.writer import AsyncWriter
from langgraph.graph import StateGraph
from pydantic import BaseModel, ConfigDict, Field

from distill import cancel

log = logging.getLogger(__name__)


class Pacing(BaseModel):
    """How fast, not what: may change between resumes of the same run."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(32, ge=1, le=1024, description="Work items in flight at once.")
    rpm: float | None = Field(None, gt=0, description="Requests per minute, all roles together.")
    tpm: float | None = Field(None, gt=0, description="Tokens per minute, all roles together.")
    token_budget: int | None = Field(None, gt=0, description="Stop starting requests after this many tokens.")


@dataclass
class Tally:
    """Counts for the progress display and the final summary."""

    outcomes: tuple[str, ...] = ("accepted", "abstained", "failed")
    total: int = 0
    counts: collections.Counter = field(default_factory=collections.Counter)
    tokens: int = 0  # the run's total: tokens stored before this process started, and its own
    tokens_at_start: int = 0
    stopped: str | None = None  # why the run stopped early (budget), None when it ran to the end
    errors: list[str] = field(default_factory=list)  # "item key: reason" per failed item
    failure_reasons: collections.Counter = field(default_factory=collections.Counter)  # failed items by reason
    faults: collections.Counter = field(default_factory=collections.Counter)  # failed calls (call_errors) by reason

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def __getattr__(self, name: str) -> int:
        if name in self.__dict__.get("outcomes", ()):
            return self.counts[name]
        raise AttributeError(name)


@runtime_checkable
class Stage(Protocol):
    """What the runner needs from a stage (corpus, levels, an evaluation's teacher or judge). Each work item is
    named by `item_key`, unique within the run: it names the item's graph thread, `finished` answers in keys, and
    failures are reported by it. The graph is the stage's module-level `builder` (compiled here with the
    checkpointer); its nodes get `context(caller)` as LangGraph's runtime context."""

    run_name: str
    outcomes: tuple[str, ...]  # the tally's counters; the last one counts failures
    recursion_limit: int
    builder: StateGraph
    indexed: tuple[type[Row], ...]  # row models the nodes read by keys of this run alone (AsyncWriter.index)

    def roles(self) -> list[Role]: ...

    def pending(self) -> list[dict[str, Any]]:
        """Work items not finished yet."""

    def item_key(self, item: dict[str, Any]) -> str: ...

    def finished(self) -> set[str]:
        """Keys of the items that reached a final outcome (their checkpoints are pruned)."""

    def context(self, caller: Caller) -> Any:
        """What the graph's nodes run with: the calls, the roles and settings."""

    def initial_state(self, item: dict[str, Any]) -> dict[str, Any]: ...

    def outcome(self, final_state: dict[str, Any]) -> str:
        """One of `outcomes`, for the tally."""

    def failure(self, item: dict[str, Any], reason: str) -> list[Row]:
        """Rows that record a failed item (the next run retries it)."""


def thread_id(run_name: str, item_key: str) -> str:
    return f"{run_name}::{item_key}"


async def run_stage(store: Store, stage: Stage, pacing: Pacing, tokens_spent: int = 0,
                    on_progress: Callable[[Tally], None] | None = None) -> Tally:
    """Run (or resume) every pending item of `stage`. Ctrl-C cancels cleanly: finished work stays stored."""
    items = stage.pending()
    tally = Tally(outcomes=stage.outcomes, total=len(items), tokens=tokens_spent, tokens_at_start=tokens_spent)
    limits = Limits(pacing.rpm, pacing.tpm, pacing.token_budget, spent=tokens_spent)
    for role in stage.roles():
        role.client.before_request = limits.before_request
    writer = AsyncWriter(store)
    for model in stage.indexed:
        writer.index(model, stage.run_name)
    caller = Caller(stage.run_name, writer, limits, tally.faults)
    notify = on_progress or (lambda _: None)
    try:
        with cancel.bound_task():  # a service job's cancel stops the run as Ctrl-C does
            async with open_checkpointer(checkpoint_path(store)) as saver:
                resumable = await _prune_finished(saver, stage)
                saver.know_threads(resumable)  # a fresh item's thread is then not looked up
                saver.run_write = writer.after_rows  # checkpoints commit after the rows of the steps they record
                graph = stage.builder.compile(checkpointer=saver)
                context = stage.context(caller)
                gate = asyncio.Semaphore(pacing.concurrency)

                async def one(item: dict[str, Any]) -> None:
                    async with gate:
                        if tally.stopped:
                            return
                        await _run_item(graph, context, saver, resumable, stage, writer, item, tally)
                        tally.tokens = limits.spent
                        notify(tally)

                notify(tally)
                await asyncio.gather(*(one(item) for item in items))
    finally:
        await writer.close()
        for role in stage.roles():
            await role.client.aclose()
    return tally


async def _run_item(graph, context: Any, saver: GroupCommitSaver, resumable: set[str], stage: Stage,
                    writer: AsyncWriter, item: dict[str, Any], tally: Tally) -> None:
    key = stage.item_key(item)
    tid = thread_id(stage.run_name, key)
    config = {"recursion_limit": stage.recursion_limit, "configurable": {"thread_id": tid}}
    failed = stage.outcomes[-1]
    try:
        resume = tid in resumable and (await graph.aget_state(config)).next
        final = await graph.ainvoke(None if resume else stage.initial_state(item), config, context=context)
    except BudgetExhausted as exc:
        tally.stopped = str(exc)
        return  # the thread keeps its checkpoint: a rerun with a larger budget resumes it
    except ProblemFailed as exc:
        reason, short = f"endpoint: {exc}", exc.reason
    except Exception as exc:  # a bug must not sink a long run: record it, show it, carry on
        log.error("%s: %s", key, traceback.format_exc())
        reason, short = f"internal error: {type(exc).__name__}: {exc}", "internal error"
    else:
        tally.counts[stage.outcome(final)] += 1
        delete_threads(saver, [tid])  # queued behind its last checkpoint (a crash leaves it to the next start)
        return
    await writer.flush()  # the item's rows put so far are stored before its failure is counted from them
    await writer.insert(*stage.failure(item, reason))
    tally.counts[failed] += 1
    tally.failure_reasons[short] += 1
    tally.errors.append(f"{key}: {reason}")


async def _prune_finished(saver: GroupCommitSaver, stage: Stage) -> set[str]:
    """Drop checkpoints of threads whose item already has an outcome (e.g. after a crash at the very end); the
    run's other checkpointed threads are returned: those a run resumes."""
    await saver.setup()
    finished = stage.finished()
    prefix = thread_id(stage.run_name, "")
    async with saver.conn.execute("SELECT DISTINCT thread_id FROM checkpoints WHERE substr(thread_id, 1, ?) = ?",
                                  [len(prefix), prefix]) as cursor:
        threads = {row[0] async for row in cursor}
    done = sorted(tid for tid in threads if tid[len(prefix):] in finished)
    if done:
        delete_threads(saver, done)
    return threads - set(done)
