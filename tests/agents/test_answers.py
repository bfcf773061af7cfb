"""Final-answer extraction: boxed, answer lines, closing expressions, think blocks, nothing."""

import pytest
from distill.agents.answers import ExtractedAnswer, extract_answer, split_think, without_boxed


@pytest.mark.parametrize(
    "text, answer, method",
    [
        # \boxed{} and \fbox{}: the last complete one, nested braces kept
        (r"so $\boxed{\frac{1}{2}}$ is the area.", r"\frac{1}{2}", "boxed"),
        (r"first \boxed{3}, then corrected: \boxed{\dfrac{3}{\sqrt{4}}}.", r"\dfrac{3}{\sqrt{4}}", "boxed"),
        (r"\boxed{\left(\frac{3}{5},\frac{8}{3}\right]}", r"\left(\frac{3}{5},\frac{8}{3}\right]", "boxed"),
        (r"\boxed{\{1\pm\sqrt{5},-2\}}", r"\{1\pm\sqrt{5},-2\}", "boxed"),
        (r"The answer is $\boxed{6:7}$.", "6:7", "boxed"),
        (r"\boxed{5} and then a cut-off \boxed{6", "5", "boxed"),
        (r"I'll answer \boxed{1/6} but no \boxed{} is allowed", "1/6", "boxed"),
        (r"\boxed 7", "7", "boxed"),
        (r"\fbox{8}", "8", "boxed"),
        (r"\boxed{\text{Evelyn}}", "Evelyn", "boxed"),
        (r"Answer: 5, or as boxed: \boxed{6}", "6", "boxed"),
        # answer lines
        ("Answer: 42", "42", "answer_line"),
        ("work...\n**Answer:** $\\frac{1}{2}$.", r"\frac{1}{2}", "answer_line"),
        ("**Final Answer**: 13.10", "13.10", "answer_line"),
        ("Final answer: (8, 23)", "(8, 23)", "answer_line"),
        ("Answer: 3\nmore thoughts\nAnswer: 4", "4", "answer_line"),
        ("Final Answer: The final answer is $3\\sqrt{2}$. I hope it is correct.", r"3\sqrt{2}", "answer_line"),
        ("Thus the answer is 3.5.", "3.5", "answer_line"),
        ("so the answer is 7, and we are done.", "7", "answer_line"),
        ("So the answer is simply 21.", "21", "answer_line"),
        ("the answer is Thursday.", "Thursday", "answer_line"),
        ("Answer: \\text{(C)}", "(C)", "answer_line"),
        # a conservative closing expression
        ("Adding up, the total area is 2 + 3 = 5.", "5", "final_expression"),
        ("So x = 1 + 2√2.", "1 + 2√2", "final_expression"),
        ("We get\n\\[ A = \\frac{\\pi}{4} \\]", r"\frac{\pi}{4}", "final_expression"),
        ("Hence the probability is 3/4.", "3/4", "final_expression"),
    ],
)
def test_extracts(text: str, answer: str, method: str):
    assert extract_answer(text) == ExtractedAnswer(answer, method)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        "I am not sure.",
        "102+38=140",  # a trace cut off mid-computation: no closing sentence
        "Given the request, the answer is likely a decimal. So maybe we need",  # prose, not an answer
        "\\boxed{",
        "\\boxed{}",
        "<think>no answer here</think>",
        "The area is approximately \\[ A \\approx 3.14 \\]",
    ],
)
def test_finds_nothing(text: str | None):
    assert extract_answer(text) == ExtractedAnswer(None, "none")


def test_content_after_think_wins_over_boxed_reasoning():
    assert extract_answer("<think>maybe \\boxed{3}</think>The answer is 5.") == ExtractedAnswer("5", "answer_line")


def test_unterminated_think_falls_back_to_the_reasoning():
    assert extract_answer("<think>long thinking... \\boxed{4}") == ExtractedAnswer("4", "boxed")


@pytest.mark.parametrize(
    "text, reasoning, content",
    [
        ("<think>a</think>b", "a", "b"),
        ("<think>\nstep 1\nstep 2\n</think>\n\n\\boxed{7}", "step 1\nstep 2", "\\boxed{7}"),
        ("reasoning only closed</think>final", "reasoning only closed", "final"),  # <think> was in the prompt
        ("<think>cut off mid-thought", "cut off mid-thought", ""),
        ("plain answer", None, "plain answer"),
        ("<think></think>42", "", "42"),
    ],
)
def test_split_think(text: str, reasoning: str | None, content: str):
    assert split_think(text) == (reasoning, content)


def test_without_boxed_removes_every_box_with_its_nested_braces():
    assert without_boxed(r"So \boxed{\frac{5 + \sqrt{1}}{2}} and \fbox{4}.").split() == ["So", "and", "."]
    assert without_boxed("no box here") == "no box here"
