"""The corpus loop's nodes. Every LLM result is put to the store's writer, keyed, before a node returns, and is
committed before the checkpoint of that step (graphs/checkpoints.py): a node replayed after a crash looks its key
up in the store (through the writer), finds its row and makes no second call. The graph's state holds where the
problem stands; the rows hold what the models said."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

from distill.agents.critic import CriticReading, CriticVerdict, critic_messages, parse_critic, redact
from distill.agents.equivalence import Verdict, check_answer, check_without_parsing
from distill.agents.solver import FEEDBACK, read_solution, solver_messages
from distill.graphs.calls import Caller, Role, call_key, usage
from distill.graphs.offload import off_loop
from distill.store.rows import AttemptRow, CorpusRow, OutcomeRow, Row, VerdictRow
from distill.store.writer import AsyncWriter

CRITIC_MODES = ("rule", "llm", "cascade")


@dataclass
class CorpusNodes:
    call: Caller
    solver: Role
    critic: Role | None  # None in critic mode "rule"
    critic_mode: str
    max_attempts: int
    max_tokens_per_problem: int | None = None
    min_reasoning_words: int = 0

    @property
    def run_name(self) -> str:
        return self.call.run_name

    @property
    def writer(self) -> AsyncWriter:
        return self.call.writer

    # -- nodes ---------------------------------------------------------------------------------------------
    async def solve(self, state: dict[str, Any]) -> dict[str, Any]:
        attempt = state["attempt"]
        key = self._key(state, "solver", self.solver, attempt)
        row = await self.writer.get(AttemptRow, key)
        if row is None:
            messages = solver_messages(self.solver.prompt, state["question"], state.get("answer"),
                                       state.get("critique"))
            completion = await self.call(self.solver, messages, key, state["problem_id"], attempt)
            solution = read_solution(completion, self.min_reasoning_words)
            row = AttemptRow(
                call_key=key, run_name=self.run_name, problem_id=state["problem_id"], attempt=attempt,
                model=self.solver.model, base_url=self.solver.base_url, params=self.solver.params,
                prompt_version=self.solver.prompt.version, messages=messages, status=solution.status,
                content=completion.content, reasoning=solution.reasoning,
                reasoning_source=completion.reasoning_source, answer=solution.answer,
                answer_method=solution.answer_method, answer_source=solution.answer_source, **usage(completion))
            self.writer.put(row)
        rule = await self.check(row.answer, state) if row.status == "ok" else {"rule": None}
        return {"attempt_key": key, "attempt_status": row.status, "answer": row.answer, "critic": None,
                "tokens": state["tokens"] + row.tokens, **rule}

    async def check(self, answer: str | None, state: dict[str, Any]) -> dict[str, Any]:
        """The rule verdict; it is stored with the next write (critic verdict or outcome): being no LLM result,
        it is simply recomputed if a crash comes first. Answers written alike are judged here; any parsing runs in
        the grading pool (graphs/offload.py)."""
        result = (check_without_parsing(answer, state["truth"])
                  or await off_loop(check_answer, answer, state["truth"], state["question"]))
        return {"rule": result.verdict.value, "rule_reason": result.reason, "rule_compared": result.predicted}

    async def critique(self, state: dict[str, Any]) -> dict[str, Any]:
        assert self.critic is not None
        key = self._key(state, "critic", self.critic, state["attempt"])
        row, attempt = await asyncio.gather(self.writer.get(VerdictRow, key),
                                            self.writer.get(AttemptRow, state["attempt_key"]))
        if row is None:
            messages = critic_messages(self.critic.prompt, state["question"], state["truth"], attempt.reasoning,
                                       attempt.answer)
            completion = await self.call(self.critic, messages, key, state["problem_id"], state["attempt"])
            reading = parse_critic(completion.content or completion.reasoning or "")
            if completion.failure:
                reason = f"the critic's reply failed ({completion.failure})"
                reading = CriticReading(CriticVerdict.UNPARSEABLE, reason)
            row = VerdictRow(
                verdict_key=key, run_name=self.run_name, problem_id=state["problem_id"], attempt=state["attempt"],
                judge="critic", verdict=reading.verdict.value,
                decided=self.critic_mode == "llm" or state["rule"] == Verdict.UNDECIDED.value,
                reason=reading.reason, raw=completion.content, model=self.critic.model, params=self.critic.params,
                prompt_version=self.critic.prompt.version, messages=messages, **usage(completion))
            self.writer.put(self._rule_verdict(state), row)
        return {"critic": row.verdict, "tokens": state["tokens"] + row.tokens,
                "critique": redact(row.reason or "", state["truth"]) if row.verdict == "reject" else None}

    async def decide(self, state: dict[str, Any]) -> dict[str, Any]:
        decided_by = self._decider(state)
        accepted = decided_by is not None and (
            state["rule"] == Verdict.CORRECT.value if decided_by == "rule" else state["critic"] == "accept")
        attempt, problem_id = state["attempt"], state["problem_id"]
        if accepted:
            row = await self.writer.get(AttemptRow, state["attempt_key"])
            self._finish(state, "accepted", f"decided by the {decided_by}", CorpusRow(
                run_name=self.run_name, problem_id=problem_id, attempt=attempt, call_key=row.call_key,
                reasoning=row.reasoning, content=row.content, answer=row.answer, decided_by=decided_by))
            return {"outcome": "accepted", "reason": f"decided by the {decided_by}"}
        reason = None
        if attempt >= self.max_attempts:
            reason = f"{attempt} attempt(s) spent{await self._failed_attempts(state)}"
        elif self.max_tokens_per_problem and state["tokens"] >= self.max_tokens_per_problem:
            reason = f"token budget per problem spent ({state['tokens']:,} >= {self.max_tokens_per_problem:,})"
        if reason:
            self._finish(state, "abstained", reason)
            return {"outcome": "abstained", "reason": reason}
        if self.critic is None and state.get("rule"):
            self.writer.put(self._rule_verdict(state))
        return {"attempt": attempt + 1, "critique": self._feedback(state)}

    # -- helpers -------------------------------------------------------------------------------------------
    async def _failed_attempts(self, state: dict[str, Any]) -> str:
        """What an abstention's attempts failed on, when not on the answer: cut at the token limit, empty."""
        keys = [self._key(state, "solver", self.solver, attempt) for attempt in range(1, state["attempt"] + 1)]
        rows = await asyncio.gather(*(self.writer.get(AttemptRow, key) for key in keys))
        statuses = collections.Counter(row.status if row else "unknown" for row in rows)
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

    def _rule_verdict(self, state: dict[str, Any]) -> VerdictRow:
        decided = self.critic_mode == "rule" or (
            self.critic_mode == "cascade" and state["rule"] != Verdict.UNDECIDED.value)
        return VerdictRow(verdict_key=self._key(state, "rule", None, state["attempt"]), run_name=self.run_name,
                          problem_id=state["problem_id"], attempt=state["attempt"], judge="rule",
                          verdict=state["rule"], decided=decided, reason=state["rule_reason"],
                          compared=state["rule_compared"])

    def _finish(self, state: dict[str, Any], status: str, reason: str, corpus_row: CorpusRow | None = None) -> None:
        """The outcome (and for an accepted problem its corpus row), written together in one transaction."""
        rows: list[Row] = [self._rule_verdict(state)] if self.critic is None and state.get("rule") else []
        rows.append(OutcomeRow(run_name=self.run_name, problem_id=state["problem_id"], status=status, reason=reason,
                               attempts=state["attempt"]))
        self.writer.put(*rows, *([corpus_row] if corpus_row else []))

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
