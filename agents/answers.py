"""Find the final answer in a model's text: `\\boxed{}`, an `Answer:` line, or a closing `= 42.`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from distill.agents.normalise import matching_close

Method = Literal["boxed", "answer_line", "final_expression", "bare", "none"]
BOX_COMMANDS = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_LINE = re.compile(
    r"^[ \t>#*_-]*(?:final\s+answer|answer)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?[ \t]*(?P<answer>\S.*?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
ANSWER_IS = re.compile(
    r"\b(?:the\s+)?(?:final\s+)?answer\s+is\s*[:：]?\s*(?P<answer>\$[^$]+\$|.+?)(?=\.\s|\.?\s*$|\n|;|,\s+(?:so|and|which)\b)",
    re.IGNORECASE | re.MULTILINE,
)
# A closing "= 42." / "is 3/4." / "equals \frac{1}{2}." on the text's last sentence.
FINAL_EXPRESSION = re.compile(r"(?:=|\bis|\bequals)\s*(?P<answer>\$[^$]+\$|[-+(]?[\d\\√π(][^=]{0,40}?)\s*\.\s*$")
MAX_ANSWER_LINE_CHARS = 100
FILLER = re.compile(r"^(?:(?:simply|just|exactly|indeed|then|therefore|thus|clearly|now)\s+)+", re.IGNORECASE)
DISPLAY_MATH = re.compile(r"(?:\\\[(?P<bracket>.+?)\\\]|\$\$(?P<dollars>.+?)\$\$)\s*$", re.DOTALL)


@dataclass(frozen=True)
class ExtractedAnswer:
    """The answer text found (cleaned of `$`, `\\text{}` and trailing periods) and how it was found."""

    text: str | None
    method: Method


def split_think(text: str) -> tuple[str | None, str]:
    """(reasoning, content) for `<think>...</think>` output; an unterminated `<think>` is all reasoning."""
    open_at, close_at = text.find(THINK_OPEN), text.find(THINK_CLOSE)
    if open_at < 0 and close_at < 0:
        return None, text.strip()
    if close_at < 0:  # cut off while thinking
        return text[open_at + len(THINK_OPEN) :].strip(), text[:open_at].strip()
    if open_at < 0 or open_at > close_at:  # the template put <think> in the prompt
        return text[:close_at].strip(), text[close_at + len(THINK_CLOSE) :].strip()
    reasoning = text[open_at + len(THINK_OPEN) : close_at].strip()
    content = (text[:open_at] + text[close_at + len(THINK_CLOSE) :]).strip()
    return reasoning, content


def extract_answer(text: str | None) -> ExtractedAnswer:
    """The final answer of `text`; with a `<think>` block, the content first, then the reasoning."""
    if not text or not text.strip():
        return ExtractedAnswer(None, "none")
    reasoning, content = split_think(text)
    found = _extract(content)
    if found.text is None and reasoning:
        found = _extract(reasoning)
    return found


def _extract(text: str) -> ExtractedAnswer:
    for method, finder in (("boxed", _last_boxed), ("answer_line", _answer_line), ("final_expression", _final)):
        answer = clean_answer(finder(text))
        if answer:
            return ExtractedAnswer(answer, method)
    return ExtractedAnswer(None, "none")


def _last_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}` / `\\fbox{...}` (nested braces allowed), or `\\boxed 5`."""
    for match in reversed(list(BOX_COMMANDS.finditer(text))):
        rest = match.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if rest < len(text) and text[rest] == "{":
            close = _closing_brace(text, rest)
            if close is not None and text[rest + 1 : close].strip():
                return text[rest + 1 : close]
        elif rest > match.end():
            token = re.match(r"[^\s$]+", text[rest:])
            if token:
                return token.group()
    return None


def without_boxed(text: str) -> str:
    """`text` with every `\\boxed{...}` / `\\fbox{...}` (nested braces allowed) replaced by a space."""
    parts, position = [], 0
    for match in BOX_COMMANDS.finditer(text):
        if match.start() < position:
            continue  # inside a box already removed
        rest = match.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        close = _closing_brace(text, rest) if rest < len(text) and text[rest] == "{" else None
        if close is not None:
            parts.append(text[position:match.start()] + " ")
            position = close + 1
    return "".join(parts) + text[position:]


def _closing_brace(text: str, start: int) -> int | None:
    """Matching `}` for the `{` at `start`, counting braces only (`\\{`, `\\}` count too)."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _answer_line(text: str) -> str | None:
    """The last `Answer: ...` line or "the answer is ..." phrase (whichever comes later)."""
    candidates = [(m.start("answer"), m["answer"]) for m in ANSWER_LINE.finditer(text)]
    candidates += [(m.start("answer"), FILLER.sub("", m["answer"])) for m in ANSWER_IS.finditer(text)]
    candidates = [(start, answer) for start, answer in candidates if _answer_like(answer)]
    if not candidates:
        return None
    answer = max(candidates)[1]
    math = re.findall(r"\$([^$]+)\$", answer)
    return math[-1] if math else answer


def _answer_like(answer: str) -> bool:
    """Short, and not a sentence: "the answer is likely a decimal" names no answer."""
    if len(answer) > MAX_ANSWER_LINE_CHARS:
        return False
    prose = re.sub(r"\$[^$]*\$|\\[a-zA-Z]+", " ", answer)
    return len(re.findall(r"[A-Za-z]{2,}", prose)) <= 1


MAX_BARE_CHARS = 80
MATH_SIGNS = re.compile(r"[\d\\^=+*/<>≤≥√π∞∪∩±]")
CHOICE_OR_VERDICT = re.compile(r"^(?:\(?[A-Ea-e]\)?|yes|no|true|false)$", re.IGNORECASE)
ONE_WORD = re.compile(r"^[^\W\d_]{2,20}(?:['-][^\W\d_]+)?$")  # `Tuesday`, `blue`, `isosceles`, `don't`
# Words that fill an answer's place without naming one: never read as a one-word answer.
FILLER_WORDS = frozenset({
    "simpler", "simplified", "simplify", "number", "numbers", "decimal", "decimals", "integer", "integers",
    "fraction", "fractions", "value", "values", "answer", "answers", "result", "results", "expression",
    "expressions", "none", "nothing", "something", "unknown", "same", "it", "this", "that", "these", "those", "here",
    "there", "so", "thus", "therefore", "hence", "final", "solution", "solutions", "done", "ok", "okay", "correct",
    "incorrect", "see", "above", "below", "maybe", "unsure", "undefined", "the", "an", "and", "or", "but", "wait",
    "hmm",
})
VAGUE_WORDS = re.compile(r"\b(?:number|decimal|integer|fraction|value|answer|simpler|expression|result)s?\b",
                         re.IGNORECASE)


def one_word_answer(text: str) -> bool:
    """A single word that names an answer (`Tuesday`, `Yes`, `blue`), not a filler (`simpler`, `number`, `none`)."""
    word = text.strip()
    return bool(ONE_WORD.match(word)) and word.lower() not in FILLER_WORDS


def looks_like_answer(text: str | None) -> bool:
    """A final answer, not a phrase of words: maths or a number with at most two words ("12th grade",
    "x = 3", "5 apples"), a bare choice or yes/no, or one word that is no filler ("Tuesday", not "simpler").
    "a number", "a decimal", "simpler", "blue sky" are not answers."""
    if not text or len(text) > MAX_BARE_CHARS or "\n" in text:
        return False
    if CHOICE_OR_VERDICT.match(text.strip()) or one_word_answer(text):
        return True
    prose = re.sub(r"\\[a-zA-Z]+|\$[^$]*\$", " ", text)
    words = re.findall(r"[A-Za-z]{2,}", prose)
    if not MATH_SIGNS.search(text) or VAGUE_WORDS.search(prose):
        return False
    return len(words) <= 2 and not re.search(r"[.!?;]\s+\S", text)


def names_no_answer(text: str | None) -> bool:
    """A phrase of words where an answer should be: "a number", "a decimal", "simpler", "the larger one"."""
    if not text:
        return True
    if CHOICE_OR_VERDICT.match(text.strip()) or re.search(r"\d", text):
        return False
    if ONE_WORD.match(text.strip()) and text.strip().lower() in FILLER_WORDS:
        return True
    prose = re.sub(r"\\[a-zA-Z]+|\$[^$]*\$", " ", text)
    return bool(VAGUE_WORDS.search(prose)) or (not MATH_SIGNS.search(text) and len(prose.split()) >= 2)


CLOSING_CHARS = 600
CANDIDATE = r"(?:\\boxed\{[^{}]*\}|\$[^$]+\$|[-−]?\d+(?:[.,/]\d+)*)"
CORRECTION = re.compile(r"\b(?:wait|actually|no,|correction|mistake|instead|scratch that|i mean)", re.IGNORECASE)
HEDGED_OR = re.compile(  # `either 3 or 4`, `5... or maybe 7`, `5, or perhaps 7`, `12 or is it 15`
    rf"\beither\s+(?P<a>{CANDIDATE})\s*,?\s*or\s+(?P<b>{CANDIDATE})"
    rf"|(?P<c>{CANDIDATE})\s*(?:\.\.\.|…|,)?\s*\bor\s+(?:maybe|perhaps|possibly|probably|is\s+it)\s+(?P<d>{CANDIDATE})",
    re.IGNORECASE)
HEDGED_QUESTION = re.compile(rf"(?P<a>{CANDIDATE})\s*\?")


def ambiguous_final(trace: str | None) -> bool:
    """Does the trace close on two different candidate answers? Looked at: its closing part (the last paragraph,
    at most its last 600 characters). Ambiguous when, there,
    - two different `\\boxed{}` values stand after the last explicit correction ("wait", "actually", "no,",
      "mistake", "instead"...): `\\boxed{5} or \\boxed{7}` is ambiguous; `\\boxed{7}. Wait, 3 + 4 + 1 = 8, so
      \\boxed{8}` is a correction and keeps 8;
    - the last sentence with a number offers hedged alternatives: `either 3 or 4`, `5... or maybe 7`,
      `12 or is it 15` (a plain `x = 3 or x = 4` lists two solutions and is not ambiguous);
    - that sentence asks two different numbers: `final answer: 12? wait, 15?`.
    Values are compared as written (spaces, `$` and trailing periods aside)."""
    if not trace or not trace.strip():
        return False
    closing = re.split(r"\n\s*\n", trace.strip())[-1][-CLOSING_CHARS:]
    starts = [match.start() for match in BOX_COMMANDS.finditer(closing)]
    boxes = [(start, _same_form(answer)) for start, end in zip(starts, [*starts[1:], len(closing)], strict=False)
             if (answer := _last_boxed(closing[start:end]))]
    corrections = [match.end() for match in CORRECTION.finditer(closing)]
    after = max((end for end in corrections if end < boxes[-1][0]), default=0) if boxes else 0
    if len({value for start, value in boxes if start >= after}) > 1:
        return True
    sentences = [part for part in re.split(r"(?<=[.!?])\s+(?=[A-Z\\$*])|\n", closing) if re.search(r"\d", part)]
    if not sentences:
        return False
    last = sentences[-1]
    for match in HEDGED_OR.finditer(last):
        first, second = (match["a"], match["b"]) if match["a"] else (match["c"], match["d"])
        if _same_form(first) != _same_form(second):
            return True
    return len({_same_form(match["a"]) for match in HEDGED_QUESTION.finditer(last)}) > 1


def _same_form(answer: str) -> str:
    answer = re.sub(r"^\\boxed\{(.*)\}$", r"\1", answer.strip(), flags=re.DOTALL)
    return re.sub(r"[\s$]", "", answer).rstrip(".").replace("−", "-")


def bare_answer(content: str | None) -> ExtractedAnswer:
    """A reasoning model's content read as its final answer (the trace is apart): `5`, `(3, π/2)`,
    `\\frac{\\sqrt{3}}{2}`, `x = 3`, `12th grade`; nothing when it is a sentence or a phrase of words."""
    answer = clean_answer(content)
    if answer and looks_like_answer(answer):
        return ExtractedAnswer(answer, "bare")
    return ExtractedAnswer(None, "none")


def _final(text: str) -> str | None:
    """Conservative: the last sentence must end in `= expression.` (or the text in display maths with `=`)."""
    text = text.rstrip()
    display = DISPLAY_MATH.search(text)
    if display:
        body = (display["bracket"] or display["dollars"]).strip()
        if "=" in body and "\\approx" not in body:
            return body.rsplit("=", 1)[1]
        return None
    last_line = text.splitlines()[-1] if text else ""
    last_sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z])", last_line)[-1]
    match = FINAL_EXPRESSION.search(last_sentence)
    if not match or not re.search(r"\d|\\pi|π|√", match["answer"]):
        return None
    return match["answer"]


def clean_answer(answer: str | None) -> str | None:
    """Strip `$`, `\\(..\\)`, bold, a whole `\\text{}`, trailing periods; None when nothing is left."""
    if answer is None:
        return None
    while True:
        before = answer
        answer = answer.strip().rstrip(".").strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")):
            if len(answer) > len(left) + len(right) and answer.startswith(left) and answer.endswith(right):
                answer = answer[len(left) : -len(right)]
        for command in ("\\text", "\\textbf", "\\mathrm", "\\mbox"):
            if answer.startswith(command + "{") and matching_close(answer, len(command)) == len(answer) - 1:
                answer = answer[len(command) + 1 : -1]
        if answer == before:
            return answer or None
