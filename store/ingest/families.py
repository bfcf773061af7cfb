"""A seeded generator of competition-style problem families with exact answers, written for this project.

Seven families, each a few phrasings of one short skill (speed-round style, answers an integer or a reduced
fraction): arithmetic, percentages, fractions, ratios, linear equations, counting, and rates/geometry. The
same (count, seed, families) always gives the same problems in the same order, every question distinct, so
train and test come from the same families and never share a problem. `write_jsonl` writes them in the form
`distill ingest --format jsonl` reads (`id`, `question`, `answer`, `section` = the family).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

Problem = tuple[str, str]  # (question, answer)


def _fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def arithmetic(rng: random.Random) -> Problem:
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(12, 89), rng.randint(12, 89)
        return f"Compute {a} + {b}.", str(a + b)
    if kind == 1:
        a, b = rng.randint(40, 99), rng.randint(11, 39)
        return f"What is {a} - {b}?", str(a - b)
    if kind == 2:
        a, b = rng.randint(3, 9), rng.randint(6, 19)
        return f"Compute {a} \\times {b}.", str(a * b)
    a, b, c = rng.randint(2, 20), rng.randint(2, 9), rng.randint(2, 9)
    return f"Evaluate {a} + {b} \\times {c}.", str(a + b * c)


def percentages(rng: random.Random) -> Problem:
    percent = rng.choice([10, 20, 25, 50, 75])
    base = rng.randint(2, 24) * {10: 10, 20: 5, 25: 4, 50: 2, 75: 4}[percent]
    value = base * percent // 100
    if rng.random() < 0.5:
        return f"What is {percent}\\% of {base}?", str(value)
    return (f"A jacket costs {base} dollars. It is on sale for {percent}\\% off. How many dollars is the discount?",
            str(value))


def fractions(rng: random.Random) -> Problem:
    if rng.random() < 0.5:
        d = rng.randint(2, 9)
        n = rng.randint(1, d - 1)
        whole = d * rng.randint(2, 12)
        return f"What is $\\frac{{{n}}}{{{d}}}$ of {whole}?", str(whole * n // d)
    b, d = rng.randint(2, 6), rng.randint(2, 6)
    a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
    return (f"Compute $\\frac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{d}}}$. Express your answer as a common fraction.",
            _fraction(Fraction(a, b) + Fraction(c, d)))


def ratios(rng: random.Random) -> Problem:
    p, q = rng.sample(range(1, 8), 2)
    k = rng.randint(2, 9)
    things = rng.choice([("boys", "girls", "class"), ("red marbles", "blue marbles", "bag"),
                         ("cats", "dogs", "shelter")])
    if rng.random() < 0.5:
        return (f"The ratio of {things[0]} to {things[1]} in a {things[2]} is {p}:{q}. There are {p * k} "
                f"{things[0]}. How many {things[1]} are there?", str(q * k))
    return (f"The ratio of {things[0]} to {things[1]} in a {things[2]} is {p}:{q}. There are {(p + q) * k} "
            f"{things[0]} and {things[1]} in all. How many {things[0]} are there?", str(p * k))


def equations(rng: random.Random) -> Problem:
    a, x, b = rng.randint(2, 9), rng.randint(-9, 12), rng.randint(1, 30)
    if rng.random() < 0.5:
        return f"Solve for $x$: ${a}x + {b} = {a * x + b}$.", str(x)
    return f"If ${a}x - {b} = {a * x - b}$, what is the value of $x$?", str(x)


def counting(rng: random.Random) -> Problem:
    kind = rng.randrange(5)
    if kind == 0:
        n = rng.randint(3, 6)
        return f"In how many different orders can {n} students stand in a line?", str(_factorial(n))
    if kind == 1:
        n = rng.randint(4, 20)
        return (f"At a meeting, each of {n} people shakes hands once with every other person. How many "
                f"handshakes take place?", str(n * (n - 1) // 2))
    if kind == 2:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        return (f"A cafe offers {a} kinds of sandwich and {b} kinds of drink. How many different meals of one "
                f"sandwich and one drink are possible?", str(a * b))
    if kind == 3:
        a, b, c = rng.randint(2, 5), rng.randint(2, 5), rng.randint(2, 4)
        return (f"Sam has {a} shirts, {b} pairs of pants and {c} hats. How many different outfits of one shirt, "
                f"one pair of pants and one hat can he make?", str(a * b * c))
    low = rng.randint(1, 60)
    high = low + rng.randint(5, 60)
    return f"How many integers are there from {low} to {high}, inclusive?", str(high - low + 1)


def rates(rng: random.Random) -> Problem:
    kind = rng.randrange(4)
    if kind == 0:
        speed, hours = rng.randint(3, 12) * 5, rng.randint(2, 6)
        return f"A car travels at {speed} miles per hour for {hours} hours. How many miles does it travel?", \
            str(speed * hours)
    if kind == 1:
        w, h = rng.randint(2, 15), rng.randint(2, 15)
        return f"What is the perimeter of a rectangle that is {w} units long and {h} units wide?", str(2 * (w + h))
    if kind == 2:
        w, h = rng.randint(2, 12), rng.randint(2, 12)
        return f"What is the area, in square units, of a rectangle with sides {w} and {h}?", str(w * h)
    mean, spread = rng.randint(5, 40), rng.randint(1, 4)
    values = [mean - spread, mean, mean + spread]
    rng.shuffle(values)
    return f"What is the average of {values[0]}, {values[1]} and {values[2]}?", str(mean)


def units_digit(rng: random.Random) -> Problem:
    n = rng.randint(101, 9999)
    if rng.random() < 0.5:
        return f"What is the units digit of {n}?", str(n % 10)
    return f"What is the remainder when {n} is divided by 10?", str(n % 10)


def place_value(rng: random.Random) -> Problem:
    n = rng.randint(1000, 9999)
    place, digit = rng.choice([("tens", n // 10 % 10), ("hundreds", n // 100 % 10), ("thousands", n // 1000)])
    return f"What digit is in the {place} place of {n}?", str(digit)


def powers_of_ten(rng: random.Random) -> Problem:
    n = rng.randint(2, 99)
    factor = rng.choice([10, 100, 1000])
    if rng.random() < 0.5:
        return f"Compute {n} \\times {factor}.", str(n * factor)
    return f"Compute {n * factor} \\div {factor}.", str(n)


def ten_percent(rng: random.Random) -> Problem:
    n = rng.randint(2, 99) * 10
    return f"What is 10\\% of {n}?", str(n // 10)


def sequences(rng: random.Random) -> Problem:
    start, step = rng.randint(1, 20), rng.randint(2, 5)
    terms = [start + step * i for i in range(4)]
    if rng.random() < 0.5:
        return (f"The numbers {terms[0]}, {terms[1]}, {terms[2]} are equally spaced. What is their average?",
                str(terms[1]))
    return (f"What is the next number in the sequence {terms[0]}, {terms[1]}, {terms[2]}, {terms[3]}, ...?",
            str(terms[3] + step))


def small_equations(rng: random.Random) -> Problem:
    x, b = rng.randint(1, 9), rng.randint(1, 9)
    if rng.random() < 0.5:
        return f"Solve for $x$: $x + {b} = {x + b}$.", str(x)
    return f"If $x - {b} = {x}$, what is $x$?", str(x + b)


def _factorial(n: int) -> int:
    return n * _factorial(n - 1) if n > 1 else 1


FAMILIES: dict[str, Callable[[random.Random], Problem]] = {
    "arithmetic": arithmetic, "percentages": percentages, "fractions": fractions, "ratios": ratios,
    "equations": equations, "counting": counting, "rates": rates,
    # speed-round items: one short, exact step each
    "units_digit": units_digit, "place_value": place_value, "powers_of_ten": powers_of_ten,
    "ten_percent": ten_percent, "sequences": sequences, "small_equations": small_equations,
}
SPEED_ROUND = ("units_digit", "place_value", "powers_of_ten", "ten_percent", "sequences", "small_equations")


def generate(count: int, seed: int = 0, families: Sequence[str] | None = None) -> list[dict[str, str]]:
    """`count` distinct problems, families taken in turn (so each has about count/len(families))."""
    names = list(families or FAMILIES)
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown problem families {unknown}: known are {', '.join(FAMILIES)}")
    if count < 1:
        raise ValueError(f"count must be positive, not {count}")
    rng = random.Random(f"distill-families:{seed}")
    seen: set[str] = set()
    problems: list[dict[str, str]] = []
    tries = 0
    while len(problems) < count:
        family = names[len(problems) % len(names)]
        question, answer = FAMILIES[family](rng)
        tries += 1
        if tries > 50 * count:
            raise ValueError(f"could not make {count} distinct problems from {names}: ask for fewer")
        if question in seen:
            continue
        seen.add(question)
        problems.append({"id": f"{family}-{len(problems) + 1:05d}", "question": question, "answer": answer,
                         "section": family})
    return problems


def write_jsonl(path: Path, count: int, seed: int = 0, families: Sequence[str] | None = None) -> bool:
    """Write the generated set; False (and nothing written) when the file already holds exactly it."""
    text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in generate(count, seed, families))
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
