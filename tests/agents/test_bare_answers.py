"""A reasoning model's reply: the trace apart, the content its (often bare) final answer. Read a bare answer,
never a phrase of words; an empty content whose trace names no clear answer is no_answer, not a guess."""

import pytest

from agents.chat import Completion
from agents.solver import read_solution

TRACE = "We need the value. Let me compute step by step.\nSo the result follows."


def reply(content, reasoning=TRACE, finish="stop"):
    return Completion(content=content, reasoning=reasoning, reasoning_source="reasoning_field" if reasoning else None,
                      finish_reason=finish, prompt_tokens=10, completion_tokens=20, latency_ms=1.0)


@pytest.mark.parametrize(("content", "answer"), [
    ("5", "5"),
    ("5.", "5"),
    ("(3, π/2)", "(3, π/2)"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{2}"),
    ("$\\frac{\\sqrt{3}}{2}$", "\\frac{\\sqrt{3}}{2}"),
    ("x = 3", "x = 3"),
    ("12th grade", "12th grade"),
    ("**-7**", "-7"),
    ("\\(2\\sqrt{5}\\)", "2\\sqrt{5}"),
    ("[2, 5) \\cup (7, \\infty)", "[2, 5) \\cup (7, \\infty)"),
    ("B", "B"),
    ("\\boxed{42}", "42"),
    ("The answer is 17.", "17"),
])
def test_a_bare_content_is_the_answer(content, answer):
    solution = read_solution(reply(content))
    assert (solution.status, solution.answer, solution.answer_source) == ("ok", answer, "content")
    assert solution.reasoning == TRACE


@pytest.mark.parametrize("content", [
    "a number",
    "a decimal",
    "simpler",
    "It depends on how you read the question, so I cannot say.",
    "The sum is even. The product is odd.",
])
def test_a_phrase_of_words_is_never_the_answer(content):
    solution = read_solution(reply(content))
    assert solution.status == "no_answer" and solution.answer is None


@pytest.mark.parametrize(("trace", "expected"), [
    ("Compute: 3 + 4 = 7.\nSo the final answer is 7.", ("ok", "7")),
    ("Many steps.\nAnswer: \\boxed{\\frac{1}{2}}", ("ok", "\\frac{1}{2}")),
    ("Hmm, so the answer is a number.", ("no_answer", None)),
    ("I think the final answer is a decimal.", ("no_answer", None)),
    ("Then the expression becomes simpler.\nAnswer: simpler", ("no_answer", None)),
    ("Long thinking with no conclusion at all", ("no_answer", None)),
])
def test_an_empty_content_falls_back_to_a_clear_answer_in_the_trace(trace, expected):
    solution = read_solution(reply("", reasoning=trace))
    assert (solution.status, solution.answer) == expected
    if solution.answer:
        assert solution.answer_source == "trace"


def test_an_instruct_reply_is_unchanged():
    """No separate trace: the content is the reasoning, and a bare last word is not taken as an answer."""
    solution = read_solution(reply("Adding gives 12, which is the result.\nSo twelve", reasoning=None))
    assert solution.status == "no_answer"
    solution = read_solution(reply("3 + 4 = 7.\nAnswer: \\boxed{7}", reasoning=None))
    assert (solution.status, solution.answer, solution.answer_method) == ("ok", "7", "boxed")
