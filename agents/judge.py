"""The judge role: asked by evaluation only where the rule check is undecided; its messages, and a robust
reading of its CORRECT/INCORRECT verdict (the same forms agents/critic.py reads for ACCEPT/REJECT)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from agents.chat import Messages
from agents.prompts import Prompt

# The judge sees the end of a long response, where its final answer is.
MAX_RESPONSE_CHARS = 6000
_WORD = r"(incorrect|correct|wrong|right)"
_VERDICT_LINE = re.compile(rf"^[\s>*#_`-]*verdict[\s*_`]*[:=\-–]\s*[*_`\"']*\s*{_WORD}\b", re.I | re.M)
_FIRST_WORD = re.compile(rf"^[\s>*#_`\"']*{_WORD}\b", re.I)
_REASON_LINE = re.compile(r"^[\s>*#_`-]*reason[\s*_`]*[:=\-–]\s*[*_`]*\s*(.+)", re.I | re.M | re.S)
_JSON = re.compile(r"\{.*\}", re.S)
_MEANING = {"correct": "correct", "right": "correct", "incorrect": "incorrect", "wrong": "incorrect"}


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
    if len(response) > MAX_RESPONSE_CHARS:
        cut = len(response) - MAX_RESPONSE_CHARS
        response = f"[... first {cut} characters omitted ...]\n{response[cut:]}"
    return prompt.messages(question=question, reference_answer=reference_answer, response=response or "(empty)",
                           answer=answer or "(none)")


def parse_judge(text: str) -> JudgeReading:
    """CORRECT/INCORRECT from `VERDICT: ...` lines, a JSON object `{"verdict": ...}`, or a reply that starts with
    the word; conflicting or missing verdicts are UNPARSEABLE (stored as such, never guessed)."""
    verdicts = {_MEANING[m.lower()] for m in _VERDICT_LINE.findall(text)}
    if not verdicts:
        verdicts = _json_verdict(text)
    if not verdicts:
        first = _FIRST_WORD.match(text)
        verdicts = {_MEANING[first[1].lower()]} if first else set()
    if len(verdicts) != 1:
        why = "both CORRECT and INCORRECT" if verdicts else "no CORRECT/INCORRECT verdict"
        return JudgeReading(JudgeVerdict.UNPARSEABLE, f"{why} in the judge's reply: {text.strip()[:300]!r}")
    return JudgeReading(JudgeVerdict(verdicts.pop()), _reason(text))


def _json_object(text: str) -> dict | None:
    match = _JSON.search(text)
    if not match:
        return None
    try:
        data = json.loads(match[0])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _json_verdict(text: str) -> set[str]:
    data = _json_object(text)
    value = str(data.get("verdict", "")).strip().lower() if data else ""
    return {_MEANING[value]} if value in _MEANING else set()


def _reason(text: str) -> str:
    match = _REASON_LINE.search(text)
    if match:
        return match[1].strip().strip("*_`").strip()[:1000]
    data = _json_object(text)
    if data and data.get("reason"):
        return str(data["reason"])[:1000]
    return text.strip()[:1000]
