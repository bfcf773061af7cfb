"""The compressor role: rewrite a level's reasoning shorter, toward a word budget; and the checks a rewrite
must pass to become the next level (shorter, same correct answer, some reasoning left, not cut off, not an echo
of the instructions, R6 in one to three sentences).

The request is a conversation, which small models follow far better than "rewrite this text" (they copy it):
the problem as the user's turn, the level being shortened as the assistant's answer, then the `shorten`
instruction (plus `retry` with the reason after a refused rewrite)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from distill.agents.answers import extract_answer, without_boxed
from distill.agents.chat import Completion, Messages
from distill.agents.equivalence import Verdict, check_answer
from distill.agents.prompts import Prompt

LEVELS = ("R1", "R2", "R3", "R4", "R5", "R6")
# Word budgets as fractions of R1's words (the published study: R1 ~220 words ... R6 ~31 words).
DEFAULT_RATIOS: dict[str, float] = {"R2": 0.60, "R3": 0.45, "R4": 0.30, "R5": 0.18, "R6": 0.10}
MIN_TARGET_WORDS = 8
MAX_SENTENCES = {"R6": 3}
MIN_REASONING_WORDS = 2  # besides the answer: "Answer: \\boxed{15}" alone is no reasoning
ECHO_WORDS = 5  # a run of this many words of the instructions in a rewrite is an echo, not reasoning
_WORD = re.compile(r"\w+")
_ANSWER_WORDS = re.compile(r"\b(?:final\s+)?answer\b", re.I)
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


def target_words(r1_words: int, level: str, ratios: dict[str, float] = DEFAULT_RATIOS,
                 base_level: str = "R1", base_words: int | None = None) -> int:
    """The word budget of `level`: its fraction of R1, or less when the level it is compressed from (`base_level`,
    `base_words` long) already came in under its own budget (then the same step down from there), and always
    fewer words than that level has: a budget the text already meets only invites a copy."""
    budget = r1_words * ratios[level]
    if base_words is not None:
        base_ratio = 1.0 if base_level == "R1" else ratios[base_level]
        budget = min(budget, base_words * ratios[level] / base_ratio)
    budget = max(MIN_TARGET_WORDS, round(budget))
    return budget if base_words is None else max(1, min(budget, base_words - 1))


def floor_words(r1_words: int, level: str, ratios: dict[str, float] = DEFAULT_RATIOS, base_level: str = "R1",
                base_words: int | None = None) -> int:
    """Fewest words a rewrite for `level` should keep: the next level's budget, so that the ladder keeps room
    below it (0 for R6). A rewrite that passes every check but falls below it is kept only as a fallback."""
    if level == LEVELS[-1]:
        return 0
    return target_words(r1_words, LEVELS[LEVELS.index(level) + 1], ratios, base_level, base_words)


def compressor_messages(prompt: Prompt, question: str, text: str, answer: str, level: str, target: int,
                        problem_with_previous: str | None = None) -> Messages:
    values = {"question": question, "answer": answer, "target_words": target, "level": level[1:],
              "words": count_words(text), "problem_with_previous": problem_with_previous}
    instruction = prompt.request("shorten", problem_with_previous is not None, **values)
    return [{"role": "system", "content": prompt.render("system", **values)}, *prompt.example_messages(),
            {"role": "user", "content": prompt.render("user", **values)},
            {"role": "assistant", "content": text}, {"role": "user", "content": instruction}]


def instruction_text(messages: Messages) -> str:
    """What the compressor was told (system and the closing instruction), for the echo check."""
    return f"{messages[0]['content']}\n{messages[-1]['content']}"


@dataclass(frozen=True)
class Compression:
    """A compressor reply, read and checked: `usable` when it passes every check, `passed` when it is also not
    below the floor (a usable rewrite below it is kept as a fallback while the compressor tries again)."""

    text: str
    answer: str | None
    words: int
    usable: bool
    passed: bool
    reason: str | None  # why it cannot be the next level, or why it is only a fallback


def read_compression(completion: Completion, truth: str, previous_words: int, level: str, floor: int = 0,
                     instructions: str = "") -> Compression:
    """Checks, in order: not cut off, not empty, ends in an answer the rule accepts against the truth, some
    reasoning besides the answer, strictly shorter than the level it shortens, (R6) at most three sentences,
    no echo of `instructions`; then whether it keeps at least `floor` words."""
    text = completion.content.strip()
    words = count_words(text)
    answer = extract_answer(text).text if text else None

    def failed(reason: str) -> Compression:
        return Compression(text, answer, words, False, False, reason)

    if completion.failure == "length":
        return failed("cut off before the end (finish_reason=length)")
    if not text:
        return failed("empty reply")
    if answer is None:
        return failed("no final answer line ('Answer: \\boxed{...}')")
    rule = check_answer(answer, truth)
    if rule.verdict != Verdict.CORRECT:
        return failed(f"its final answer {answer!r} is not the problem's answer ({rule.verdict}: {rule.reason})")
    if reasoning_words(text) < MIN_REASONING_WORDS:
        return failed("no reasoning left, only the answer")
    if words >= previous_words:
        return failed(f"not shorter: {words} words, the level it shortens has {previous_words}")
    limit = MAX_SENTENCES.get(level)
    if limit is not None and (sentences := count_sentences(text)) > limit:
        return failed(f"{sentences} sentences; {level} must say it in at most {limit}")
    if echoed := _shingles(text) & _shingles(instructions):
        return failed(f"it repeats the instructions ({' '.join(sorted(echoed)[0])!r})")
    if words < floor:
        return Compression(text, answer, words, True, False,
                           f"too short: {words} words; keep more of the steps, at least {floor} words")
    return Compression(text, answer, words, True, True, None)


def reasoning_words(text: str) -> int:
    """Words besides the answer itself: `\\boxed{...}` and the words 'final answer' do not count."""
    return len(_WORD.findall(_ANSWER_WORDS.sub(" ", without_boxed(text))))


def _shingles(text: str, n: int = ECHO_WORDS) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
