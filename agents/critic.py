"""The critic role: its messages, and a robust reading of its ACCEPT/REJECT verdict."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from agents.chat import Messages
from agents.prompts import Prompt

# The critic sees the end of a long trace, where its conclusion is.
MAX_REASONING_CHARS = 8000
_VERDICT_LINE = re.compile(r"^[\s>*#_`-]*verdict[\s*_`]*[:=\-–]\s*[*_`\"']*\s*(accept|reject)\w*", re.I | re.M)
_FIRST_WORD = re.compile(r"^[\s>*#_`\"']*(accept|reject)(ed|s)?\b", re.I)
_REASON_LINE = re.compile(r"^[\s>*#_`-]*reason[\s*_`]*[:=\-–]\s*[*_`]*\s*(.+)", re.I | re.M | re.S)
_JSON = re.compile(r"\{.*\}", re.S)


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
    if len(reasoning) > MAX_REASONING_CHARS:
        cut = len(reasoning) - MAX_REASONING_CHARS
        reasoning = f"[... first {cut} characters omitted ...]\n{reasoning[cut:]}"
    return prompt.messages(question=question, reference_answer=reference_answer, reasoning=reasoning,
                           answer=answer or "(none)")


def parse_critic(text: str) -> CriticReading:
    """ACCEPT/REJECT from `VERDICT: ...` lines, a JSON object, or a reply that starts with the word;
    conflicting or missing verdicts are UNPARSEABLE (recorded as such, never guessed)."""
    verdicts = {m.lower() for m in _VERDICT_LINE.findall(text)}
    if not verdicts:
        verdicts = _json_verdict(text)
    if not verdicts:
        first = _FIRST_WORD.match(text)
        verdicts = {first[1].lower()} if first else set()
    reason = _reason(text)
    if len(verdicts) != 1:
        why = "both ACCEPT and REJECT" if verdicts else "no ACCEPT/REJECT verdict"
        return CriticReading(CriticVerdict.UNPARSEABLE, f"{why} in the critic's reply: {text.strip()[:300]!r}")
    return CriticReading(CriticVerdict(verdicts.pop()), reason)


def _json_verdict(text: str) -> set[str]:
    match = _JSON.search(text)
    if not match:
        return set()
    try:
        data = json.loads(match[0])
    except json.JSONDecodeError:
        return set()
    value = str(data.get("verdict", "")).strip().lower() if isinstance(data, dict) else ""
    return {value} if value in ("accept", "reject") else set()


def _reason(text: str) -> str:
    match = _REASON_LINE.search(text)
    if match:
        return match[1].strip().strip("*_`").strip()[:1000]
    try:
        data = json.loads(_JSON.search(text)[0])  # type: ignore[index]
        if isinstance(data, dict) and data.get("reason"):
            return str(data["reason"])[:1000]
    except (TypeError, json.JSONDecodeError):
        pass
    rest = _FIRST_WORD.sub("", _VERDICT_LINE.sub("", text), count=1)  # the reply without its verdict word
    return rest.strip().lstrip(".:-*– ").strip()[:1000] or text.strip()[:1000]


def redact(text: str, reference_answer: str) -> str:
    """The critique as the solver may see it: the reference answer never appears in it."""
    answer = reference_answer.strip()
    if len(answer) < 1:
        return text
    pattern = re.compile(rf"(?<![\w.]){re.escape(answer)}(?![\w])", re.I)
    return pattern.sub("[withheld]", text)
