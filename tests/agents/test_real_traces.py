"""The rule check on real data: DeepSeek-R1 answers to O'Bryan problems, and MATH-500's own answers.

Counts below were checked by eye, pair by pair: of 364 R1 answers, 319 are character-identical to the
gold, 9 more are equal in another form, 25 are empty (the trace ran out of tokens) and 11 are wrong.
"""

import json
from collections import Counter
from pathlib import Path

import pytest
from distill.agents.answers import extract_answer
from distill.agents.equivalence import Verdict, _compare_answers, check_answer
from distill.agents.normalise import normalise

C, W, U = Verdict.CORRECT, Verdict.INCORRECT, Verdict.UNDECIDED

EQUAL_IN_ANOTHER_FORM = {
    ("Lose 18", "lose 18"),
    ("4.5", "9/2"),
    ("(-2,7)", "(-2, 7)"),
    ("√53", "sqrt(53)"),
    ("2114five", "2114_5"),
    ("2x + 5y", "2x+5y"),
    ("(10, 9)", "(10,9)"),
    ("(1, -1)", "(1,-1)"),
    ("mp/(m + pr)", "(mp)/(m+pr)"),
}
WRONG = {
    ("NEVER", "SOMETIMES"),
    ("26", "2√194"),
    ("648.36", "648.18"),
    ("9/10", "11/10"),
    ("-16", "8"),
    ("10", "-10"),
    ("6", "30/7"),
    ("{2,3,7,8}", "∅"),
    ("13,680", "13700"),  # rounded to the hundreds
    ("37.5", "Please provide the problem."),
    ("100.5", "12"),
}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def r1_rows(shared_data: Path) -> list[dict]:
    return read_jsonl(shared_data / "teacher-traces" / "obryan_r1_2011_2019.jsonl")


@pytest.fixture
def math500_rows(shared_data: Path) -> list[dict]:
    return read_jsonl(shared_data / "math500" / "math500.jsonl")


def test_r1_answers_grade_as_verified_by_eye(r1_rows: list[dict]):
    checks = [(row, check_answer(row["teacher_answer"], row["true_answer"])) for row in r1_rows]
    counts = Counter(check.verdict for _, check in checks)
    for row, check in checks[:3] + [item for item in checks if item[1].verdict != C][:5]:
        print(f"{row['true_answer']!r} vs {row['teacher_answer']!r}: {check.verdict} ({check.reason})")
    assert len(r1_rows) == 364
    assert counts == {C: 328, W: 36}
    assert sum(1 for _, check in checks if check.reason == "no answer") == 25
    wrong = {(row["true_answer"], row["teacher_answer"]) for row, check in checks if check.verdict == W}
    assert wrong - {(row["true_answer"], "") for row in r1_rows} == WRONG
    differently_written = {
        (row["true_answer"], row["teacher_answer"])
        for row, check in checks
        if check.verdict == C and row["true_answer"] != row["teacher_answer"]
    }
    assert differently_written == EQUAL_IN_ANOTHER_FORM


@pytest.mark.parametrize(
    "gold, predicted, expected, reason",
    [
        ("6:7", "6:7", C, "every ratio part equal, in order"),
        ("15:13:12", "15:13:12", C, "every ratio part equal, in order"),
        ("13.10", "13.10", C, "equal when rounded to the gold's 2 decimal place(s)"),
        ("36√2", "36√2", C, "equal value"),
        ("-15/17 - 9/17 i", "", W, "no answer"),
        ("{2,3,7,8}", "∅", W, "0 answers, expected 4"),
        ("NEVER", "SOMETIMES", W, "'sometimes' is another choice than 'never'"),
        ("2114five", "2114_5", C, "same digits in the same base"),
    ],
)
def test_tricky_r1_rows(r1_rows: list[dict], gold: str, predicted: str, expected: Verdict, reason: str):
    row = next(row for row in r1_rows if (row["true_answer"], row["teacher_answer"]) == (gold, predicted))
    check = check_answer(row["teacher_answer"], row["true_answer"])
    if gold == predicted:  # written alike: check_answer's shortcut; the parsing path must agree, for its reason
        assert (check.verdict, check.reason) == (C, "same answer")
        check = _compare_answers(normalise(gold), normalise(predicted))
    assert (check.verdict, check.reason) == (expected, reason)


def test_empty_r1_answers_partly_recoverable_from_the_trace(r1_rows: list[dict]):
    """The 25 empty answers are traces cut off by the token limit; extraction finds a stated answer in 10."""
    empty = [row for row in r1_rows if not row["teacher_answer"].strip()]
    recovered = [(row, extract_answer(row["teacher_reasoning"])) for row in empty]
    recovered = [(row, found) for row, found in recovered if found.text is not None]
    verdicts = Counter(check_answer(found.text, row["true_answer"]).verdict for row, found in recovered)
    for row, found in recovered:
        print(f"{row['true_answer']!r}: {found}")
    assert len(empty) == 25 and len(recovered) == 10
    assert verdicts == {C: 5, W: 5}
    assert Counter(found.method for _, found in recovered) == {"answer_line": 7, "boxed": 3}


def test_math500_answers_equal_themselves(math500_rows: list[dict]):
    # through the parsing path (check_answer itself takes a shortcut for answers written alike)
    undecided = [row["answer"] for row in math500_rows
                 if _compare_answers(normalise(row["answer"]), normalise(row["answer"])).verdict != C]
    assert len(math500_rows) == 500 and undecided == []


def test_math500_boxed_answer_of_the_solution_matches_the_gold(math500_rows: list[dict]):
    """Measured: 500 of 500 (every solution's last \\boxed{} is extracted and judged equal to `answer`)."""
    extracted = [extract_answer(row["solution"]) for row in math500_rows]
    checks = [check_answer(found.text, row["answer"]) for found, row in zip(extracted, math500_rows, strict=True)]
    rate = sum(check.verdict == C for check in checks) / len(checks)
    print(f"MATH-500 solution boxed == answer: {rate:.3f}")
    assert all(found.method == "boxed" for found in extracted)
    assert rate >= 0.99
