"""LLM calls as graph nodes make them: keyed, limited, failures recorded. Every stage (corpus, levels) uses
this, so caching by key and the limits work the same everywhere."""

from __future__ import annotations

import collections
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from distill.agents.chat import ChatCallError, ChatClient, Completion, Messages
from distill.agents.prompts import Prompt
from distill.graphs.limits import Limits
from distill.store.rows import CallErrorRow
from distill.store.writer import AsyncWriter

CALL_HEADER = "X-Distill-Call"  # sent with every request: servers and proxies can log or deduplicate by it


class ProblemFailed(RuntimeError):
    """The endpoint failed for good on this problem; the next run retries it. `reason` is short ("HTTP 500")."""

    def __init__(self, message: str, reason: str = "endpoint fault"):
        super().__init__(message)
        self.reason = reason


def call_key(run: str, problem_id: str, role: str, attempt: int | str, prompt_version: str, model: str,
             params: dict[str, Any]) -> str:
    """The identity of one LLM result: (run, problem, role, attempt, prompt hash, model, params)."""
    identity = [run, problem_id, role, attempt, prompt_version, model, params]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Role:
    """A role as a stage uses it: client, prompt, and the identity that goes into cache keys."""

    client: ChatClient
    prompt: Prompt
    model: str
    params: dict[str, Any]
    base_url: str = ""

    def key(self, run: str, problem_id: str, attempt: int | str) -> str:
        return call_key(run, problem_id, self.prompt.role, attempt, self.prompt.version, self.model, self.params)

    def identity(self) -> dict[str, Any]:
        return {"model": self.model, "params": self.params, "prompt": self.prompt.version}


@dataclass
class Caller:
    """Makes a role's request under the run's limits; a request that fails for good is recorded and fails the
    problem (the next run retries it)."""

    run_name: str
    writer: AsyncWriter
    limits: Limits
    faults: collections.Counter = field(default_factory=collections.Counter)  # failed calls by reason

    async def __call__(self, role: Role, messages: Messages, key: str, problem_id: str,
                       attempt: int) -> Completion:
        estimate = sum(len(m["content"]) for m in messages) // 4 + int(role.params.get("max_tokens", 1024))
        async with self.limits.call(estimate) as record:
            try:
                completion = await role.client.complete(messages, headers={CALL_HEADER: key})
            except ChatCallError as exc:
                await self._record_fault(role, problem_id, attempt, key, exc.reason, str(exc))
                raise ProblemFailed(str(exc), exc.reason) from exc
            record(completion.tokens)
        if completion.fault:
            tries = completion.retries + 1
            await self._record_fault(role, problem_id, attempt, key, completion.fault,
                                     f"{role.client.name}: {completion.fault} after {tries} tries")
        return completion

    async def _record_fault(self, role: Role, problem_id: str, attempt: int, key: str, reason: str,
                            error: str) -> None:
        """Every call that failed for good goes into `call_errors`, and is counted by reason for the summary."""
        self.faults[reason] += 1
        await self.writer.insert(CallErrorRow(run_name=self.run_name, problem_id=problem_id, role=role.prompt.role,
                                              attempt=attempt, call_key=key, reason=reason, error=error))


def usage(completion: Completion) -> dict[str, Any]:
    """The columns every stored LLM result carries (store.rows.Usage)."""
    return {"finish_reason": completion.finish_reason, "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens, "latency_ms": round(completion.latency_ms, 2),
            "retries": completion.retries}
