"""The student's chat format: the same system prompt in training and evaluation, one answer line."""

from distill.agents.answers import extract_answer
from distill.agents.student import STUDENT_SYSTEM_PROMPT, assistant_target, student_messages, training_example


def test_messages_share_the_system_prompt():
    example = training_example("What is 6 times 7?", "6 times 7 is 42.", "42")
    assert example["messages"][:2] == student_messages("What is 6 times 7?")
    assert example["messages"][0] == {"role": "system", "content": STUDENT_SYSTEM_PROMPT}
    assert example["messages"][2]["role"] == "assistant"


def test_the_target_ends_in_exactly_one_answer_line():
    ending = "6 times 7 is 42.\nAnswer: \\boxed{42}"
    assert assistant_target(ending, "42") == ending
    added = assistant_target("6 times 7 is 42.", "42")
    assert added.endswith("\n\nAnswer: \\boxed{42}") and added.count("\\boxed") == 1
    early = assistant_target("First \\boxed{41}? No: " + "recheck " * 20 + "so 42.", "42")
    assert extract_answer(early).text == "42"
