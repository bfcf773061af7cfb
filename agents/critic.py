"""The critic role: its messages, and a robust reading of its ACCEPT/REJECT verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from distill.agents.chat import Messages
from distill.agents.prompts import Prompt
from distill.agents.verdicts import CONFLICT, VerdictReader, tail

# The critic sees the end of a long trace, where its conclusion is.
MAX_REASONING_CHARS = 8000
_READER = VerdictReader({"accept": "accept", "reject": "reject"}, suffixes="ed|s")


class CriticVerdict(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    UNPARSEABLE = "unparseable"


@dataclass(frozen=True)
class CriticReading:
    verdict: CriticVerdict
    reason: str


def critic_messages(prompt: Prompt, question: str, reference_answer: str, reasoning: str,
                    answer: str | None) -> Messages:
    reasoning = tail(reasoning, MAX_REASONING_CHARS)
    return prompt.messages(question=question, reference_answer=reference_answer, reasoning=reasoning,
                           answer=answer or "(none)")


def parse_critic(text: str) -> CriticReading:
    """ACCEPT/REJECT from `VERDICT: ...` lines, a JSON object, or a reply that starts with the word;
    conflicting or missing verdicts are UNPARSEABLE (recorded as such, never guessed)."""
    verdict, reason = _READER.read(text)
    if verdict is None:
        why = "both ACCEPT and REJECT" if reason == CONFLICT else "no ACCEPT/REJECT verdict"
        return CriticReading(CriticVerdict.UNPARSEABLE, f"{why} in the critic's reply: {text.strip()[:300]!r}")
    return CriticReading(CriticVerdict(verdict), reason)


def redact(text: str, reference_answer: str) -> str:
    """The critique as the solver may see it: the reference answer never appears in it."""
    answer = reference_answer.strip()
    if len(answer) < 1:
        return text
    pattern = re.compile(rf"(?<![\w.]){re.escape(answer)}(?![\w])", re.I)
    return pattern.sub("[withheld]", text)
