"""Test doubles for the corpus loop: a scripted LangChain chat model (unit tests only) and a store seeded
with a few problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distill.agents.chat import ChatClient
from distill.agents.prompts import load_prompt
from distill.graphs.calls import Role
from distill.store.ingest import ingest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

PROBLEMS = [
    {"id": "p1", "question": "What is 6 times 7?", "answer": "42"},
    {"id": "p2", "question": "What is 10 minus 3?", "answer": "7"},
    {"id": "p3", "question": "Write the ratio 2 to 3 as a:b.", "answer": "2:3"},
]


class ScriptedChatModel(BaseChatModel):
    """Answers with `script(messages)`: an AIMessage, or a str (content, finish_reason 'stop')."""

    script: Callable[[list[BaseMessage]], Any]
    calls: list[list[BaseMessage]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.calls.append(messages)
        reply = self.script(messages)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, str):
            reply = AIMessage(content=reply, response_metadata={"finish_reason": "stop"},
                              usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
        return ChatResult(generations=[ChatGeneration(message=reply)])


def scripted_role(role: str, script: Callable[[list[BaseMessage]], Any], model: str = "fake",
                  prompt_file: Path | None = None) -> Role:
    chat = ScriptedChatModel(script=script, calls=[])
    client = ChatClient(chat, name=model, max_retries=2, wait_initial_s=0.001, wait_max_s=0.01)
    return Role(client=client, prompt=load_prompt(role, file=prompt_file), model=model,
                params={"temperature": 0.0, "max_tokens": 256}, base_url="fake://")


def calls(role: Role) -> list[list[BaseMessage]]:
    return role.client.backend.model.calls


def seed_problems(store, tmp_path: Path, problems: list[dict[str, str]] = PROBLEMS) -> None:
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    ingest(store, path, "jsonl", source="toy")


def question_of(messages: list[BaseMessage]) -> str:
    return messages[-1].content


def solver_by_question(answers: dict[str, Any]) -> Callable[[list[BaseMessage]], Any]:
    """A solver that answers each question (matched by a substring) with `\\boxed{answer}` or a given reply."""
    def script(messages):
        text = question_of(messages)
        for needle, reply in answers.items():
            if needle in text:
                value = reply(messages) if callable(reply) else reply
                return value if not isinstance(value, str) or "\\boxed" in value or value == "" else \
                    f"Let me compute step by step.\nAnswer: \\boxed{{{value}}}"
        raise AssertionError(f"unscripted question: {text[:80]}")
    return script
