"""The problem-family generator: deterministic, distinct questions, every family in turn, answers that an
independent reading of each question recomputes, and a file the jsonl ingest stores as it is."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from math import comb, factorial

import pytest
from distill.store.ingest import ingest
from distill.store.ingest.families import FAMILIES, generate, write_jsonl

NUMBER = r"(-?\d+)"


def recompute(question: str) -> str | None:
    """The answer read off the question by hand-written rules (None: a phrasing this reader does not know)."""
    q = question.replace("\\times", "*").replace("\\%", "%")
    ints = [int(n) for n in re.findall(NUMBER, q)]
    rules = [
        (r"^What is 10% of \d+\?$", lambda: Fraction(ints[1], 10)),
        (r"^Solve for \$x\$: \$x \+", lambda: ints[1] - ints[0]),
        (r"^If \$x - \d+ = \d+\$", lambda: ints[0] + ints[1]),
        (r"^Compute \d+ \+ \d+\.$", lambda: ints[0] + ints[1]),
        (r"^What is \d+ - \d+\?$", lambda: ints[0] - ints[1]),
        (r"^Compute \d+ \* \d+\.$", lambda: ints[0] * ints[1]),
        (r"^Evaluate \d+ \+ \d+ \* \d+\.$", lambda: ints[0] + ints[1] * ints[2]),
        (r"^What is \d+% of \d+\?$", lambda: Fraction(ints[0] * ints[1], 100)),
        (r"jacket costs \d+ dollars.*\d+% off", lambda: Fraction(ints[0] * ints[1], 100)),
        (r"^What is \$\\frac\{\d+\}\{\d+\}\$ of \d+\?$", lambda: Fraction(ints[0] * ints[2], ints[1])),
        (r"^Compute \$\\frac", lambda: Fraction(ints[0], ints[1]) + Fraction(ints[2], ints[3])),
        (r"ratio .* in all", lambda: Fraction(ints[2] * ints[0], ints[0] + ints[1])),
        (r"ratio .* There are \d+ \w+( \w+)?\. How many", lambda: Fraction(ints[1] * ints[2], ints[0])),
                (r"Solve for \$x\$", lambda: Fraction(ints[2] - ints[1], ints[0])),
        (r"^If \$\d+x - \d+", lambda: Fraction(ints[2] + ints[1], ints[0])),
        (r"stand in a line", lambda: factorial(ints[0])),
        (r"shakes hands", lambda: comb(ints[0], 2)),
        (r"sandwich", lambda: ints[0] * ints[1]),
        (r"shirts", lambda: ints[0] * ints[1] * ints[2]),
        (r"inclusive", lambda: ints[1] - ints[0] + 1),
        (r"miles per hour", lambda: ints[0] * ints[1]),
        (r"perimeter", lambda: 2 * (ints[0] + ints[1])),
        (r"area", lambda: ints[0] * ints[1]),
        (r"equally spaced", lambda: Fraction(sum(ints), 3)),
        (r"average", lambda: Fraction(sum(ints), 3)),
        (r"units digit of|divided by 10\?", lambda: ints[0] % 10),
        (r"tens place", lambda: ints[0] // 10 % 10),
        (r"hundreds place", lambda: ints[0] // 100 % 10),
        (r"thousands place", lambda: ints[0] // 1000 % 10),
        (r"^Compute \d+ \* (10|100|1000)\.$", lambda: ints[0] * ints[1]),
        (r"^Compute \d+ \\div (10|100|1000)\.$", lambda: Fraction(ints[0], ints[1])),
        (r"^What is 10% of \d+\?$", lambda: Fraction(ints[1], 10)),
        (r"next number in the sequence", lambda: ints[3] + (ints[3] - ints[2])),
        (r"^Solve for \$x\$: \$x \+", lambda: ints[1] - ints[0]),
        (r"^If \$x - \d+ = \d+\$", lambda: ints[0] + ints[1]),
    ]
    for pattern, value in rules:
        if re.search(pattern, q):
            result = Fraction(value())
            return str(result.numerator) if result.denominator == 1 else f"{result.numerator}/{result.denominator}"
    return None


def test_same_seed_same_problems_other_seed_other_problems():
    assert generate(50, seed=3) == generate(50, seed=3)
    assert generate(50, seed=3) != generate(50, seed=4)
    assert generate(30, seed=3) == generate(50, seed=3)[:30]  # a larger count only adds problems


def test_distinct_questions_every_family_in_turn_and_exact_answers():
    problems = generate(90 * len(FAMILIES), seed=0)  # the smallest family (10% of 20..990) has 98 questions
    assert len({p["question"] for p in problems}) == len(problems)
    assert len({p["id"] for p in problems}) == len(problems)
    counts = {name: sum(1 for p in problems if p["section"] == name) for name in FAMILIES}
    assert counts == dict.fromkeys(FAMILIES, 90)
    for p in problems:
        assert recompute(p["question"]) == p["answer"], p


def test_family_choice_and_bad_requests():
    assert {p["section"] for p in generate(20, families=["counting", "rates"])} == {"counting", "rates"}
    with pytest.raises(ValueError, match="unknown problem families"):
        generate(5, families=["calculus"])
    with pytest.raises(ValueError, match="positive"):
        generate(0)
    with pytest.raises(ValueError, match="distinct"):
        generate(10_000, families=["counting"])


def test_written_file_is_ingested_as_it_is(store, tmp_path):
    path = tmp_path / "gen" / "problems.jsonl"
    assert write_jsonl(path, 70, seed=1)
    assert not write_jsonl(path, 70, seed=1)  # unchanged: not rewritten
    report = ingest(store, path, "jsonl", source="families")
    assert report.inserted == 70
    rows = store.query("SELECT problem_id, question, answer, section, status FROM problems ORDER BY ingest_order")
    expected = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["problem_id"], r["question"], r["answer"], r["section"]) for r in rows] == [
        (f"families/{p['id']}", p["question"], p["answer"], p["section"]) for p in expected]
    assert {r["status"] for r in rows} == {"ok"}


def test_generate_command_writes_the_file_and_refuses_unknown_families(cli, tmp_path):
    out = tmp_path / "speed.jsonl"
    result = cli("generate", out, "--count", "12", "--seed", "2", "--families", "units_digit,sequences")
    assert result.exit_code == 0 and "wrote" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == generate(12, 2, ["units_digit", "sequences"])
    assert "unchanged" in cli("generate", out, "--count", "12", "--seed", "2", "--families",
                              "units_digit,sequences").output
    bad = cli("generate", tmp_path / "x.jsonl", "--families", "calculus")
    assert bad.exit_code == 2 and "unknown problem families" in bad.output and "Traceback" not in bad.output
