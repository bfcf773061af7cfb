"""The compressor role: rewrite a level's reasoning shorter, toward a word budget; and the checks a rewrite
must pass to become the next level (shorter, same correct answer, not cut off, R6 in one to three sentences)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.answers import extract_answer
from agents.chat import Completion, Messages
from agents.equivalence import Verdict, check_answer
from agents.prompts import Prompt

LEVELS = ("R1", "R2", "R3", "R4", "R5", "R6")
# Word budgets as fractions of R1's words (the published study: R1 ~220 words ... R6 ~31 words).
DEFAULT_RATIOS: dict[str, float] = {"R2": 0.60, "R3": 0.45, "R4": 0.30, "R5": 0.18, "R6": 0.10}
MIN_TARGET_WORDS = 8
MAX_SENTENCES = {"R6": 3}
_SENTENCE_END = re.compile(r"(?<!\d)[.!?](?=\s|$)|(?<=\d)[.!?](?=\s+[A-Z]|\s*$)")
_ANSWER_LINE = re.compile(r"^\s*(\**\s*final\s+)?answer\s*:?.*$", re.I | re.M)


def count_words(text: str) -> int:
    return len(text.split())


def count_sentences(text: str) -> int:
    """Sentences before the answer line (decimals like 3.5 do not end one)."""
    body = _ANSWER_LINE.sub("", text).strip()
    if not body:
        return 0
    ends = len(_SENTENCE_END.findall(body))
    return ends + (0 if re.search(r"[.!?]\s*$", body) else 1)


def target_words(r1_words: int, level: str, ratios: dict[str, float] = DEFAULT_RATIOS) -> int:
    return max(MIN_TARGET_WORDS, round(r1_words * ratios[level]))


def compressor_messages(prompt: Prompt, question: str, text: str, answer: str, level: str, target: int,
                        problem_with_previous: str | None = None) -> Messages:
    values = {"question": question, "reasoning": text, "answer": answer, "target_words": target,
              "level": level[1:], "words": count_words(text)}
    if problem_with_previous is None:
        return prompt.messages(**values)
    return prompt.messages(retry=True, problem_with_previous=problem_with_previous, **values)


@dataclass(frozen=True)
class Compression:
    """A compressor reply, read and checked."""

    text: str
    answer: str | None
    words: int
    passed: bool
    reason: str | None  # why it cannot be the next level


def read_compression(completion: Completion, truth: str, previous_words: int, level: str) -> Compression:
    """Checks, in order: not cut off, not empty, ends in an answer the rule accepts against the truth, strictly
    shorter than the level it shortens, and (R6) at most three sentences."""
    text = completion.content.strip()
    words = count_words(text)
    answer = extract_answer(text).text if text else None

    def failed(reason: str) -> Compression:
        return Compression(text, answer, words, False, reason)

    if completion.failure == "length":
        return failed("cut off before the end (finish_reason=length)")
    if not text:
        return failed("empty reply")
    if answer is None:
        return failed("no final answer line ('Answer: \\boxed{...}')")
    rule = check_answer(answer, truth)
    if rule.verdict != Verdict.CORRECT:
        return failed(f"its final answer {answer!r} is not the problem's answer ({rule.verdict}: {rule.reason})")
    if words >= previous_words:
        return failed(f"not shorter: {words} words, the level it shortens has {previous_words}")
    limit = MAX_SENTENCES.get(level)
    if limit is not None and (sentences := count_sentences(text)) > limit:
        return failed(f"{sentences} sentences; {level} must say it in at most {limit}")
    return Compression(text, answer, words, True, None)
