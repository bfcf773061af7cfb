"""The grading cascade: extract the final answer, the rule check (agents.equivalence, our normalisation), and an
LLM judge only where the rule is undecided. Final outcome: the rule when it decided, else the judge, else
'undecided'; an output cut at max_tokens is 'truncated' and never graded. The `eval_results` view computes the
same outcome in SQL; `final_outcome` is its Python twin."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from distill.agents.answers import extract_answer
from distill.agents.compressor import count_words
from distill.agents.equivalence import Verdict, check_answer

OUTCOMES = ("correct", "incorrect", "undecided", "truncated")


@dataclass(frozen=True)
class Graded:
    """The rule's reading of one response: what it found, and its verdict."""

    answer: str | None
    answer_method: str
    rule_verdict: str
    rule_reason: str
    rule_compared: str | None

    def columns(self) -> dict[str, Any]:
        return asdict(self)


def grade_response(response: str, gold: str, reasoning: str | None = None, question: str | None = None) -> Graded:
    """The final answer of `response` (of the separate trace when the response has none) checked by the rule; the
    question, when known, decides a number said with its word (`12th grade` for `12`)."""
    found = extract_answer(response)
    if found.text is None and reasoning:
        found = extract_answer(reasoning)
    check = check_answer(found.text, gold, question)
    return Graded(found.text, found.method, str(check.verdict), check.reason, check.predicted)


def answer_row(response: str, gold: str, *, truncated: bool, reasoning: str | None = None,
               question: str | None = None) -> dict[str, Any]:
    """The graded columns of an eval_items row (the rule verdict of a truncated output is kept for reference only)."""
    graded = grade_response(response, gold, reasoning, question)
    return {"response": response, "reasoning": reasoning, "truncated": truncated, "words": count_words(response),
            **graded.columns()}


def needs_judge(truncated: bool, rule_verdict: str) -> bool:
    """Only what the rule cannot decide goes to the judge; truncated outputs are never graded."""
    return not truncated and rule_verdict == Verdict.UNDECIDED


def final_outcome(truncated: bool, rule_verdict: str, judge_verdict: str | None = None) -> str:
    """truncated | the rule's verdict when decided | the judge's when parseable | undecided."""
    if truncated:
        return "truncated"
    if rule_verdict != Verdict.UNDECIDED:
        return rule_verdict
    if judge_verdict in ("correct", "incorrect"):
        return judge_verdict
    return "undecided"


def regrade(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored answers whose extraction or rule verdict differ under the current rule (it may have improved since
    they were graded), with their new columns."""
    changed = []
    for item in items:
        graded = grade_response(item["response"], item["gold"], item.get("reasoning"), item.get("question")).columns()
        if any(item[k] != v for k, v in graded.items()):
            changed.append({"evaluation_id": item["evaluation_id"], "problem_id": item["problem_id"], **graded})
    return changed
