"""The judge role: its prompt file and a robust reading of CORRECT / INCORRECT (never guessed)."""

import pytest
from distill.agents.judge import MAX_RESPONSE_CHARS, JudgeVerdict, judge_messages, parse_judge
from distill.agents.prompts import load_prompt

C, W, U = JudgeVerdict.CORRECT, JudgeVerdict.INCORRECT, JudgeVerdict.UNPARSEABLE


@pytest.mark.parametrize("reply, verdict", [
    ("VERDICT: CORRECT\nREASON: 3/6 is 1/2.", C),
    ("VERDICT: INCORRECT\nREASON: 7 is not 8.", W),
    ("**Verdict:** Incorrect\n**Reason:** wrong value", W),
    ("verdict = correct", C),
    ("> VERDICT - INCORRECT", W),
    ('{"verdict": "correct", "reason": "same"}', C),
    ('Here you go: {"verdict": "INCORRECT"}', W),
    ("Correct. The forms are equal.", C),
    ("Incorrect: the student gave 5.", W),
    ("Wrong, the answer is 3.", W),
    ("Let me think. The reference is 4 and the student says 4.", U),
    ("VERDICT: CORRECT\nVERDICT: INCORRECT", U),
    ("", U),
    ("VERDICT: maybe", U),
    ("The student's answer is not correct", U),  # no verdict line and does not start with the word
])
def test_parse_judge(reply, verdict):
    assert parse_judge(reply).verdict is verdict


def test_reason_is_read_from_the_reason_line_or_json():
    assert parse_judge("VERDICT: CORRECT\nREASON: equal values").reason == "equal values"
    assert parse_judge('{"verdict": "incorrect", "reason": "5 != 6"}').reason == "5 != 6"
    assert "no CORRECT/INCORRECT verdict" in parse_judge("hmm").reason


def test_judge_prompt_has_the_declared_variables_and_cuts_long_responses():
    prompt = load_prompt("judge")
    messages = judge_messages(prompt, "What is 1/2 + 1/4?", "3/4", "x" * (MAX_RESPONSE_CHARS + 500), "6/8")
    user = messages[1]["content"]
    assert messages[0]["role"] == "system" and "VERDICT: CORRECT or INCORRECT" in messages[0]["content"]
    assert "What is 1/2 + 1/4?" in user and "Reference answer: 3/4" in user and "final answer: 6/8" in user
    assert "[... first 500 characters omitted ...]" in user
    assert "final answer: (none)" in judge_messages(prompt, "q", "1", "", None)[1]["content"]
