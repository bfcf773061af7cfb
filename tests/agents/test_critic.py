"""Reading the critic's verdict robustly, and keeping the reference answer out of the solver's feedback."""

import pytest
from distill.agents.critic import CriticVerdict, parse_critic, redact

A, R, U = CriticVerdict.ACCEPT, CriticVerdict.REJECT, CriticVerdict.UNPARSEABLE


@pytest.mark.parametrize(("reply", "verdict", "reason"), [
    ("VERDICT: ACCEPT\nREASON: the sum is right.", A, "the sum is right."),
    ("VERDICT: REJECT\nREASON: step 2 drops a sign.", R, "step 2 drops a sign."),
    ("**Verdict:** Reject\n**Reason:** wrong base case.", R, "wrong base case."),
    ("verdict = accepted\nreason - fine", A, "fine"),
    ("REJECT\n\nThe candidate divides by zero.", R, "The candidate divides by zero."),
    ("Accept. The algebra checks out.", A, "The algebra checks out."),
    ('{"verdict": "reject", "reason": "off by one"}', R, "off by one"),
    ("Here is my review.\nVERDICT: REJECT\nREASON: no justification for x=3.", R, "no justification for x=3."),
    ("Looks fine to me.", U, None),
    ("VERDICT: ACCEPT\nVERDICT: REJECT\nREASON: unsure", U, None),
    ("", U, None),
    ('{"verdict": "maybe"}', U, None),
])
def test_parse_critic(reply, verdict, reason):
    reading = parse_critic(reply)
    assert reading.verdict == verdict
    if reason is not None:
        assert reading.reason == reason
    else:
        assert "verdict" in reading.reason.lower()


@pytest.mark.parametrize(("text", "answer", "expected"), [
    ("The answer should be 42, not 41.", "42", "The answer should be [withheld], not 41."),
    ("You got 6:7 reversed; it is 7:6 only if...", "6:7", "You got [withheld] reversed; it is 7:6 only if..."),
    ("Step 12 is wrong.", "2", "Step 12 is wrong."),
    ("A ratio of 3:8 was expected.", "3:8", "A ratio of [withheld] was expected."),
])
def test_redact_keeps_the_reference_answer_out(text, answer, expected):
    assert redact(text, answer) == expected
