"""A reasoning model's reply: the trace apart, the content its (often bare) final answer. Read a bare answer,
never a phrase of words; an empty content whose trace names no clear answer is no_answer, not a guess."""

import pytest
from distill.agents.chat import Completion
from distill.agents.solver import read_solution

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
    ("Tuesday", "Tuesday"),
    ("Yes", "Yes"),
    ("blue", "blue"),
    ("isosceles", "isosceles"),
    ("**Thursday**", "Thursday"),
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
    "number",
    "decimal",
    "answer",
    "none",
    "None.",
    "blue sky",
    "It is Tuesday",
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


@pytest.mark.parametrize(("trace", "expected"), [
    # the closing part offers two different candidates: no answer rather than a guess
    ("Let me recount the cases.\n\nSo it's 5... or maybe 7.", ("no_answer", None)),
    ("Both fit the constraint.\n\nThe answer is either 3 or 4.", ("no_answer", None)),
    ("Two readings.\n\nSo \\boxed{5} or \\boxed{7}, depending on the reading.", ("no_answer", None)),
    ("Work.\n\nFirst reading gives \\boxed{12}. The second gives \\boxed{15}.", ("no_answer", None)),
    ("Hmm.\n\nfinal answer: 12? wait, 15?", ("no_answer", None)),
    ("Hmm.\n\nSo x is 3, or perhaps 4.", ("no_answer", None)),
    # unambiguous closings keep their answer
    ("x could be 3 or 4.\n\nChecking, 3 fails. So the final answer is 4.", ("ok", "4")),
    ("Solve x^2 - 7x + 12 = 0.\n\nAnswer: \\boxed{3 \\text{ or } 4}", ("ok", "3 \\text{ or } 4")),
    ("Many steps.\n\nSo the answer is \\boxed{5}, and indeed \\boxed{5} checks out.", ("ok", "5")),
    ("Earlier I thought 5 or maybe 7.\n\nNow it is clear: the answer is \\boxed{7}.", ("ok", "7")),
    # an explicit correction, then a single final box
    ("Sum.\n\nSo \\boxed{7}. Wait, I made a mistake: 3 + 4 + 1 = 8, so \\boxed{8}.", ("ok", "8")),
    ("Sum.\n\nI get \\boxed{7}. Actually, recounting gives \\boxed{8}.", ("ok", "8")),
])
def test_an_empty_content_with_an_ambiguous_trace_is_no_answer(trace, expected):
    solution = read_solution(reply("", reasoning=trace))
    assert (solution.status, solution.answer) == expected


def test_an_ambiguous_trace_does_not_override_a_clear_content():
    solution = read_solution(reply("7", reasoning="Hmm.\n\nSo it's 5... or maybe 7."))
    assert (solution.status, solution.answer, solution.answer_source) == ("ok", "7", "content")
