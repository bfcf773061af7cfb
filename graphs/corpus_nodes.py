"""The corpus loop's nodes. Every LLM result is stored, keyed, before a node returns: a node replayed after a
crash finds its row and makes no second call."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from distill.agents.critic import CriticReading, CriticVerdict, critic_messages, parse_critic, redact
from distill.agents.equivalence import Verdict, check_answer
from distill.agents.solver import FEEDBACK, read_solution, solver_messages
from distill.graphs.calls import Caller, Role, call_key, tokens, usage
from distill.store import Store
from distill.store.corpus import find_attempt, find_verdict, insert_attempt, insert_verdict, outcome_statements
from distill.store.writer import Statement

CRITIC_MODES = ("rule", "llm", "cascade")


@dataclass
class CorpusNodes:
    store: Store
    call: Caller
    solver: Role
    critic: Role | None  # None in critic mode "rule"
    critic_mode: str
    max_attempts: int
    max_tokens_per_problem: int | None = None
    min_reasoning_words: int = 0
    stored_keys: set[str] = field(default_factory=set)  # results stored before this process started
    with_outcome: set[str] = field(default_factory=set)  # problems whose (failed) outcome a new one replaces
    _attempts: dict[str, dict[str, Any]] = field(default_factory=dict)  # this process's open attempts, by key

    @property
    def run_name(self) -> str:
        return self.call.run_name

    # -- nodes ---------------------------------------------------------------------------------------------
    async def solve(self, state: dict[str, Any]) -> dict[str, Any]:
        attempt = state["attempt"]
        key = self._key(state, "solver", self.solver, attempt)
        row = self._attempt(key)
        if row is None:
            messages = solver_messages(self.solver.prompt, state["question"], state.get("answer"),
                                       state.get("critique"))
            completion = await self.call(self.solver, messages, key, state["problem_id"], attempt)
            solution = read_solution(completion, self.min_reasoning_words)
            row = {
                "call_key": key, "run_name": self.run_name, "problem_id": state["problem_id"], "attempt": attempt,
                "model": self.solver.model, "base_url": self.solver.base_url, "params": self.solver.params,
                "prompt_version": self.solver.prompt.version, "messages": messages, "status": solution.status,
                "content": completion.content, "reasoning": solution.reasoning,
                "reasoning_source": completion.reasoning_source, "answer": solution.answer,
                "answer_method": solution.answer_method, "answer_source": solution.answer_source,
                **usage(completion),
            }
            await self.call.writer.write(insert_attempt(row))
            self._attempts[key] = row
        return {"attempt_key": key, "attempt_status": row["status"], "answer": row["answer"], "rule": None,
                "critic": None, "tokens": state["tokens"] + tokens(row)}

    async def check(self, state: dict[str, Any]) -> dict[str, Any]:
        """The rule verdict; it is stored with the next write (critic verdict or outcome): being no LLM result,
        it is simply recomputed if a crash comes first."""
        result = check_answer(state["answer"], state["truth"], state["question"])
        return {"rule": result.verdict.value, "rule_reason": result.reason, "rule_compared": result.predicted}

    async def critique(self, state: dict[str, Any]) -> dict[str, Any]:
        assert self.critic is not None
        key = self._key(state, "critic", self.critic, state["attempt"])
        row = find_verdict(self.store, key) if key in self.stored_keys else None
        if row is None:
            attempt = self._attempt(state["attempt_key"])
            messages = critic_messages(self.critic.prompt, state["question"], state["truth"], attempt["reasoning"],
                                       attempt["answer"])
            completion = await self.call(self.critic, messages, key, state["problem_id"], state["attempt"])
            reading = parse_critic(completion.content or completion.reasoning or "")
            if completion.failure:
                reason = f"the critic's reply failed ({completion.failure})"
                reading = CriticReading(CriticVerdict.UNPARSEABLE, reason)
            row = {
                "verdict_key": key, "run_name": self.run_name, "problem_id": state["problem_id"],
                "attempt": state["attempt"], "judge": "critic", "verdict": reading.verdict.value,
                "decided": self.critic_mode == "llm" or state["rule"] == Verdict.UNDECIDED.value,
                "reason": reading.reason, "raw": completion.content, "model": self.critic.model,
                "params": self.critic.params, "prompt_version": self.critic.prompt.version, "messages": messages,
                **usage(completion),
            }
            await self.call.writer.write(self._rule_verdict(state), insert_verdict(row, key in self.stored_keys))
        return {"critic": row["verdict"], "tokens": state["tokens"] + tokens(row),
                "critique": redact(row["reason"] or "", state["truth"]) if row["verdict"] == "reject" else None}

    async def decide(self, state: dict[str, Any]) -> dict[str, Any]:
        decided_by = self._decider(state)
        accepted = decided_by is not None and (
            state["rule"] == Verdict.CORRECT.value if decided_by == "rule" else state["critic"] == "accept")
        attempt, problem_id = state["attempt"], state["problem_id"]
        if accepted:
            row = self._attempt(state["attempt_key"])
            await self._finish(state, "accepted", f"decided by the {decided_by}", corpus_row={
                "run_name": self.run_name, "problem_id": problem_id, "attempt": attempt, "call_key": row["call_key"],
                "reasoning": row["reasoning"], "content": row["content"], "answer": row["answer"],
                "decided_by": decided_by})
            return {"outcome": "accepted", "reason": f"decided by the {decided_by}"}
        reason = None
        if attempt >= self.max_attempts:
            reason = f"{attempt} attempt(s) spent{self._failed_attempts(state)}"
        elif self.max_tokens_per_problem and state["tokens"] >= self.max_tokens_per_problem:
            reason = f"token budget per problem spent ({state['tokens']:,} >= {self.max_tokens_per_problem:,})"
        if reason:
            await self._finish(state, "abstained", reason)
            return {"outcome": "abstained", "reason": reason}
        if self.critic is None and state.get("rule"):
            await self.call.writer.write(self._rule_verdict(state))
        return {"attempt": attempt + 1, "critique": self._feedback(state)}

    # -- helpers -------------------------------------------------------------------------------------------
    def _failed_attempts(self, state: dict[str, Any]) -> str:
        """What an abstention's attempts failed on, when not on the answer: cut at the token limit, empty."""
        statuses = collections.Counter()
        for attempt in range(1, state["attempt"] + 1):
            row = self._attempt(self._key(state, "solver", self.solver, attempt))
            statuses[row["status"] if row else "unknown"] += 1
        notes = []
        if statuses["length"]:
            notes.append(f"{statuses['length']} cut off at the token limit (max_tokens "
                         f"{self.solver.params.get('max_tokens', '?')}): raise --max-tokens")
        if statuses["empty"]:
            notes.append(f"{statuses['empty']} empty (endpoint faults, see call_errors)")
        if statuses["no_work"]:
            notes.append(f"{statuses['no_work']} without the steps (fewer than {self.min_reasoning_words} words "
                         "besides the answer)")
        if statuses["no_answer"]:
            notes.append(f"{statuses['no_answer']} without a final answer")
        return f"; {', '.join(notes)}" if notes else ""

    def _attempt(self, key: str) -> dict[str, Any] | None:
        """An attempt row: from this process's memory, or from the store when it was stored before."""
        if key in self._attempts:
            return self._attempts[key]
        return find_attempt(self.store, key) if key in self.stored_keys else None

    def _rule_verdict(self, state: dict[str, Any]) -> Statement:
        decided = self.critic_mode == "rule" or (
            self.critic_mode == "cascade" and state["rule"] != Verdict.UNDECIDED.value)
        key = self._key(state, "rule", None, state["attempt"])
        return insert_verdict({
            "verdict_key": key, "run_name": self.run_name,
            "problem_id": state["problem_id"], "attempt": state["attempt"], "judge": "rule",
            "verdict": state["rule"], "decided": decided, "reason": state["rule_reason"],
            "compared": state["rule_compared"]}, replay=key in self.stored_keys)

    async def _finish(self, state: dict[str, Any], status: str, reason: str,
                      corpus_row: dict[str, Any] | None = None) -> None:
        rule = [self._rule_verdict(state)] if self.critic is None and state.get("rule") else []
        outcome = outcome_statements(self.run_name, state["problem_id"], status, reason, state["attempt"], corpus_row,
                                     replace=state["problem_id"] in self.with_outcome)
        await self.call.writer.write(*rule, *outcome)
        for attempt in range(1, state["attempt"] + 1):
            self._attempts.pop(self._key(state, "solver", self.solver, attempt), None)

    def _decider(self, state: dict[str, Any]) -> str | None:
        if state["attempt_status"] != "ok":
            return None
        if self.critic_mode == "rule":
            return "rule"
        if self.critic_mode == "llm":
            return "critic"
        return "rule" if state["rule"] != Verdict.UNDECIDED.value else "critic"

    def _feedback(self, state: dict[str, Any]) -> str:
        if state["attempt_status"] != "ok":
            return FEEDBACK[state["attempt_status"]]
        if state.get("critique"):
            return state["critique"]
        return FEEDBACK["unverified" if state.get("critic") == CriticVerdict.UNPARSEABLE.value else "incorrect"]

    def _key(self, state: dict[str, Any], role: str, spec: Role | None, attempt: int) -> str:
        return call_key(self.run_name, state["problem_id"], role, attempt, spec.prompt.version if spec else "",
                        spec.model if spec else "", spec.params if spec else {})
