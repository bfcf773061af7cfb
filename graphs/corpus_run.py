"""The corpus stage for the runner: which problems, which graph, what counts as done, what a run records."""

from __future__ import annotations

from typing import Any

from distill.graphs import corpus
from distill.graphs.calls import Caller, Role
from distill.graphs.config import CorpusConfig
from distill.graphs.corpus_nodes import CorpusNodes
from distill.graphs.runner import Tally, run_stage
from distill.store import Store
from distill.store.corpus import finished_problem_ids, problems_to_build, register_run, set_run_status, tokens_spent
from distill.store.manifest import distill_version, git_sha, package_versions
from distill.store.rows import AttemptRow, OutcomeRow, Row, VerdictRow


class CorpusStage:
    """One item per problem, keyed by its id; see graphs.runner.Stage."""

    outcomes = ("accepted", "abstained", "failed")
    builder = corpus.builder
    indexed = (AttemptRow, VerdictRow)  # their keys hash the run's name

    def __init__(self, store: Store, run_name: str, config: CorpusConfig, solver: Role, critic: Role | None,
                 exclude: frozenset[str] = frozenset()):
        if (critic is None) != (config.critic_mode == "rule"):
            raise ValueError(f"critic mode {config.critic_mode!r} {'needs' if critic is None else 'takes no'} critic")
        self.store, self.run_name, self.config, self.solver, self.critic = store, run_name, config, solver, critic
        self.exclude = exclude  # held-out problems: never sent to the teacher
        self.recursion_limit = 4 * config.max_attempts + 8

    def roles(self) -> list[Role]:
        return [r for r in (self.solver, self.critic) if r is not None]

    def pending(self) -> list[dict[str, Any]]:
        return problems_to_build(self.store, self.run_name, self.config.source, self.config.limit,
                                 self.config.include_duplicates, sorted(self.exclude))

    def item_key(self, item: dict[str, Any]) -> str:
        return item["problem_id"]

    def finished(self) -> set[str]:
        return finished_problem_ids(self.store, self.run_name)

    def context(self, caller: Caller) -> CorpusNodes:
        return CorpusNodes(caller, self.solver, self.critic, self.config.critic_mode, self.config.max_attempts,
                           self.config.max_tokens_per_problem, min_reasoning_words=self.config.min_reasoning_words)

    def initial_state(self, item: dict[str, Any]) -> dict[str, Any]:
        return corpus.initial_state(item)

    def outcome(self, final_state: dict[str, Any]) -> str:
        return "accepted" if final_state.get("outcome") == "accepted" else "abstained"

    def failure(self, item: dict[str, Any], reason: str) -> list[Row]:
        attempts = self.store.scalar("SELECT count(*) FROM attempts WHERE run_name = ? AND problem_id = ?",
                                     [self.run_name, item["problem_id"]])
        return [OutcomeRow(run_name=self.run_name, problem_id=item["problem_id"], status="failed", reason=reason,
                           attempts=attempts)]

    def identity(self) -> dict[str, Any]:
        """What decides a run's results; a resume must match it."""
        settings = self.config.model_dump(mode="json", exclude=set(self.config.RESUMABLE_FIELDS) | {
            "teacher", "critic", "prompts_dir", "solver_prompt", "critic_prompt", "local_sampling"})
        return {**settings, "solver": self.solver.identity(), "critic": self.critic and self.critic.identity()}

    def manifest(self) -> dict[str, Any]:
        """Resolved configuration without secrets (endpoints carry only their key's env var name)."""
        prompts = {r.prompt.role: {"path": r.prompt.path, "version": r.prompt.version, "sha256": r.prompt.sha256}
                   for r in self.roles()}
        endpoints = {r.prompt.role: {"model": r.model, "base_url": r.base_url} for r in self.roles()}
        return {"config": self.config.model_dump(mode="json"), "endpoints": endpoints, "prompts": prompts,
                "packages": package_versions(), "distill_version": distill_version(), "git_sha": git_sha()}


async def run_corpus(store: Store, run_name: str, config: CorpusConfig, solver: Role, critic: Role | None,
                     on_progress=None, exclude: frozenset[str] = frozenset()) -> Tally:
    """Build (or resume) the corpus run `run_name`, leaving out the `exclude` problems (held out for test)."""
    stage = CorpusStage(store, run_name, config, solver, critic, exclude)
    register_run(store, run_name, "corpus", stage.manifest(), stage.identity())
    tally = await run_stage(store, stage, config.pacing, tokens_spent(store, run_name), on_progress)
    tally.tokens = tokens_spent(store, run_name)  # the store's figure: every stored call of the run
    unfinished = tally.total - tally.accepted - tally.abstained
    set_run_status(store, run_name, "complete" if unfinished == 0 else "incomplete")
    return tally
