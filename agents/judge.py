"""The judge role: asked by evaluation only where the rule check is undecided; its messages, and a robust
reading of its CORRECT/INCORRECT verdict (the same forms agents/critic.py reads for ACCEPT/REJECT)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from distill.agents.chat import Messages
from distill.agents.prompts import Prompt
from distill.agents.verdicts import CONFLICT, VerdictReader, tail

# The judge sees the end of a long response, where its final answer is.
MAX_RESPONSE_CHARS = 6000
_READER = VerdictReader({"correct": "correct", "right": "correct", "incorrect": "incorrect", "wrong": "incorrect"})


class JudgeVerdict(StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNPARSEABLE = "unparseable"


@dataclass(frozen=True)
class JudgeReading:
    verdict: JudgeVerdict
    reason: str


def judge_messages(prompt: Prompt, question: str, reference_answer: str, response: str,
                   answer: str | None) -> Messages:
    """The judge's request: the question, the reference, the end of the response and its extracted answer."""
    response = tail(response, MAX_RESPONSE_CHARS)
    return prompt.messages(question=question, reference_answer=reference_answer, response=response or "(empty)",
                           answer=answer or "(none)")


def parse_judge(text: str) -> JudgeReading:
    """CORRECT/INCORRECT from `VERDICT: ...` lines, a JSON object `{"verdict": ...}`, or a reply that starts with
    the word; conflicting or missing verdicts are UNPARSEABLE (stored as such, never guessed)."""
    verdict, reason = _READER.read(text)
    if verdict is None:
        why = "both CORRECT and INCORRECT" if reason == CONFLICT else "no CORRECT/INCORRECT verdict"
        return JudgeReading(JudgeVerdict.UNPARSEABLE, f"{why} in the judge's reply: {text.strip()[:300]!r}")
    return JudgeReading(JudgeVerdict(verdict), reason)
