"""The runner: one graph thread per (run, problem), bounded concurrency, SQLite checkpoints beside the store,
resume by rerunning, pruning of finished threads, and a tally for the progress display."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from graphs.config import CorpusConfig
from graphs.corpus import build_corpus_graph, initial_state
from graphs.corpus_nodes import CorpusNodes, ProblemFailed, Role
from graphs.limits import BudgetExhausted, Limits
from store import Store
from store.corpus import (
    finished_problem_ids,
    outcome_statements,
    problems_to_build,
    register_run,
    set_run_status,
    stored_call_keys,
    tokens_spent,
)
from store.manifest import distill_version, git_sha, package_versions
from store.writer import AsyncWriter

log = logging.getLogger(__name__)


@dataclass
class Tally:
    """Counts for the progress display and the final summary."""

    total: int = 0
    accepted: int = 0
    abstained: int = 0
    failed: int = 0
    skipped_done: int = 0
    tokens: int = 0
    stopped: str | None = None  # why the run stopped early (budget), None when it ran to the end
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.accepted + self.abstained + self.failed


def checkpoint_path(store: Store) -> Path:
    """The SQLite checkpoint file beside the DuckDB store (distill.duckdb -> distill.checkpoints.sqlite)."""
    return store.path.with_name(f"{store.path.stem}.checkpoints.sqlite")


@contextlib.asynccontextmanager
async def open_checkpointer(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """The SQLite saver in WAL mode with synchronous=NORMAL: safe when the process is killed (only a power cut
    may lose the newest checkpoints, which stored LLM results make cheap to redo), and ~10x faster commits."""
    async with aiosqlite.connect(str(path)) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        yield AsyncSqliteSaver(conn)


def thread_id(run_name: str, problem_id: str) -> str:
    return f"{run_name}::{problem_id}"


def run_identity(config: CorpusConfig, solver: Role, critic: Role | None) -> dict[str, Any]:
    """What decides a run's results; a resume must match it."""
    def role(r: Role | None) -> dict[str, Any] | None:
        return None if r is None else {"model": r.model, "params": r.params, "prompt": r.prompt.version}

    settings = config.model_dump(mode="json", exclude=set(config.PACING_FIELDS) | {
        "teacher", "critic", "prompts_dir", "solver_prompt", "critic_prompt"})
    return {**settings, "solver": role(solver), "critic": role(critic)}


def run_manifest(config: CorpusConfig, solver: Role, critic: Role | None) -> dict[str, Any]:
    """Resolved configuration without secrets (endpoints carry only their key's env var name)."""
    prompts = {r.prompt.role: {"path": r.prompt.path, "version": r.prompt.version, "sha256": r.prompt.sha256}
               for r in (solver, critic) if r is not None}
    return {"config": config.model_dump(mode="json"), "solver": {"model": solver.model, "base_url": solver.base_url},
            "critic": critic and {"model": critic.model, "base_url": critic.base_url}, "prompts": prompts,
            "packages": package_versions(), "distill_version": distill_version(), "git_sha": git_sha()}


async def run_corpus(store: Store, run_name: str, config: CorpusConfig, solver: Role, critic: Role | None,
                     on_progress: Callable[[Tally], None] | None = None) -> Tally:
    """Build (or resume) the corpus run `run_name`. Ctrl-C cancels cleanly: finished work stays stored."""
    if (critic is None) != (config.critic_mode == "rule"):
        raise ValueError(f"critic mode {config.critic_mode!r} {'needs' if critic is None else 'takes no'} critic")
    register_run(store, run_name, "corpus", run_manifest(config, solver, critic), run_identity(config, solver, critic))
    problems = problems_to_build(store, run_name, config.source, config.limit, config.include_duplicates)
    tally = Tally(total=len(problems))
    limits = Limits(config.rpm, config.tpm, config.token_budget, spent=tokens_spent(store, run_name))
    for role in (solver, critic):
        if role is not None:
            role.client.before_request = limits.before_request
    writer = AsyncWriter(store)
    nodes = CorpusNodes(run_name, store, writer, solver, critic, config.critic_mode, config.max_attempts, limits,
                        config.max_tokens_per_problem, stored_keys=stored_call_keys(store, run_name))
    notify = on_progress or (lambda _: None)
    try:
        async with open_checkpointer(checkpoint_path(store)) as saver:
            await _prune_finished(saver, store, run_name)
            graph = build_corpus_graph(nodes, saver)
            gate = asyncio.Semaphore(config.concurrency)
            graph_config = {"recursion_limit": 4 * config.max_attempts + 8}

            async def one(problem: dict[str, Any]) -> None:
                async with gate:
                    if tally.stopped:
                        return
                    await _solve_one(graph, saver, nodes, problem, graph_config, tally)
                    tally.tokens = limits.spent
                    notify(tally)

            notify(tally)
            await asyncio.gather(*(one(p) for p in problems))
    finally:
        await writer.close()
        for role in (solver, critic):
            if role is not None:
                await role.client.aclose()
    unfinished = tally.total - tally.accepted - tally.abstained
    set_run_status(store, run_name, "complete" if unfinished == 0 else "incomplete")
    return tally


async def _solve_one(graph, saver: AsyncSqliteSaver, nodes: CorpusNodes, problem: dict[str, Any],
                     graph_config: dict[str, Any], tally: Tally) -> None:
    tid = thread_id(nodes.run_name, problem["problem_id"])
    config = {**graph_config, "configurable": {"thread_id": tid}}
    try:
        snapshot = await graph.aget_state(config)
        final = await graph.ainvoke(None if snapshot.next else initial_state(problem), config)
    except BudgetExhausted as exc:
        tally.stopped = str(exc)
        return  # the thread keeps its checkpoint: a rerun with a larger budget resumes it
    except ProblemFailed as exc:
        await _fail(nodes, problem, f"endpoint: {exc}", tally)
        return
    except Exception as exc:  # a bug must not sink a long run: record it, show it, carry on
        log.error("problem %s: %s", problem["problem_id"], traceback.format_exc())
        await _fail(nodes, problem, f"internal error: {type(exc).__name__}: {exc}", tally)
        return
    if final.get("outcome") == "accepted":
        tally.accepted += 1
    else:
        tally.abstained += 1
    await saver.adelete_thread(tid)


async def _fail(nodes: CorpusNodes, problem: dict[str, Any], reason: str, tally: Tally) -> None:
    attempts = nodes.store.scalar("SELECT count(*) FROM attempts WHERE run_name = ? AND problem_id = ?",
                                  [nodes.run_name, problem["problem_id"]])
    await nodes.writer.write(*outcome_statements(nodes.run_name, problem["problem_id"], "failed", reason, attempts))
    tally.failed += 1
    tally.errors.append(f"{problem['problem_id']}: {reason}")


async def _prune_finished(saver: AsyncSqliteSaver, store: Store, run_name: str) -> None:
    """Drop checkpoints of threads whose problem already has an outcome (e.g. after a crash at the very end)."""
    await saver.setup()
    finished = finished_problem_ids(store, run_name)
    async with saver.conn.execute("SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id LIKE ?",
                                  [f"{run_name}::%"]) as cursor:
        threads = [row[0] async for row in cursor]
    for tid in threads:
        if tid.split("::", 1)[1] in finished:
            await saver.adelete_thread(tid)
