"""The rule check: is a predicted final answer the gold answer? Our normalisation, then math-verify.

Policy (what a demanding competition grader would accept), each decision tested in
tests/agents/test_equivalence_table.py:
- Ratios `6:7` compare part by part: `12:14` is INCORRECT (not in lowest terms), `6/7` is UNDECIDED.
- An unreduced fraction equal to the gold (`42/63` vs `2/3`) is UNDECIDED: whether lowest terms were asked for
  is in the question, which the critic or judge reads.
- Ordered pairs/tuples and intervals keep order and brackets: `(1,2)` vs `(2,1)` or `[1,2]` is INCORRECT;
  sets `{..}` and bare lists `1, -2` / `1 and -1/3` / `1 \\pm \\sqrt{19}` are unordered. An interval answered
  with inequalities (`2 < x < 5`) is UNDECIDED.
- A matrix in `pmatrix`/`bmatrix` equals the same rows written out (`[[1,2],[3,4]]`, `((1,2),(3,4))`,
  `[1, 2; 3, 4]`, `1,2;3,4`), entry by entry; another shape or a transposed matrix is INCORRECT. A column vector
  equals the tuple `(1, 2)` or `[1, 2]` in order; against a bare `1, 2`, a gold `[1, 2]` (maybe an interval),
  or as a row vector `\\begin{pmatrix} 1 & 2 \\end{pmatrix}` against a tuple, it is UNDECIDED.
- A decimal gold (`3.33`, `13.10`, `0.1571`) accepts any value that rounds to it at its number of decimal places
  (`10/3`, `(1+√5)/2`, `13.1`); within one unit of its last digit (truncation) is UNDECIDED. An exact gold
  (`1/3`) accepts a decimal only if equal (`1/2` vs `0.5`); a rounded decimal (`0.333`) is UNDECIDED.
- Percent: `50%` vs `50` is CORRECT (sign omitted), `50%` vs `0.5` UNDECIDED (depends on the question).
- Text (`Thursday`, `Lose 18`) is CORRECT when equal ignoring case; different words are UNDECIDED, except
  within a closed vocabulary (ALWAYS/SOMETIMES/NEVER, days) where they are INCORRECT. A choice-letter gold
  (`D`) makes other letters, letter lists and numbers INCORRECT.
- Numerals in a base: `2114five` = `2114_5` = `2114`; the same value in base ten is UNDECIDED.
- Units and degree marks are dropped (`15 feet` = `15`, `5 apples` = `5`); two different units are UNDECIDED.
- A number with its word against the bare number: the question decides (`check_answer(..., question=...)`).
  When it asks for that word (`What grade`, `which place`, `How many apples`), the numbers decide: `12th grade`
  vs `12` is CORRECT, vs `11` INCORRECT. When it counts something else (`How many minutes` for `3 hours`), or
  without the question (or one asking for no word), an ordinal (`12th grade`) is UNDECIDED and a unit is dropped
  as above.
- Plain-text `k/2w` is read both ways (k/(2w), (k/2)w): UNDECIDED when the readings disagree.
- No timeouts exist off the main thread, so what could run away (power towers, huge factorials, sums,
  integrals, answers over 400 characters) is UNDECIDED without being evaluated.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import re
from dataclasses import dataclass
from enum import StrEnum

import sympy
from distill.agents.matrices import Rows, latex_matrix, written_matrix
from distill.agents.normalise import (
    Normalised,
    answer_shape,
    base_number,
    canonical_words,
    choice_letters,
    decimal_places,
    expand_items,
    is_numeral,
    normalise,
    ratio_parts,
    same_vocabulary,
    strip_assignment,
    word_answer,
)
from distill.agents.quantities import asked_words, counted
from math_verify import LatexExtractionConfig, parse, verify
from sympy import Basic, Float, I, MatrixBase, Rational
from sympy.core.relational import Relational

MAX_RAW_CHARS = 2000
MAX_ANSWER_CHARS = 400
MAX_DIGITS = 100_000  # a number with more decimal digits than this is not checked by rule
MAX_UNORDERED_ITEMS = 7
INEQUALITY = re.compile(r"<|>|\\le(?:q)?(?![a-z])|\\ge(?:q)?(?![a-z])")
POWER_TOWER = re.compile(r"\^\s*(?:\w+|\{[^{}]*\})\s*\^")
AMBIGUOUS_DIVISION = re.compile(r"/\s*(\d+)(?=[a-zA-Z(]|\\(?!frac|cdot|times)[a-zA-Z])")  # k/2w, 1/2\pi
SLOW_NODES = (sympy.Integral, sympy.Sum, sympy.Product, sympy.Limit, sympy.Derivative)
class _DropTimeoutDisabledWarning(logging.Filter):
    """math-verify warns once that its timeouts are off; ours are the input guards below."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutDisabledWarning())


class Verdict(StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class RuleCheck:
    """The rule's verdict on one answer, with the normalised forms it compared and why."""

    verdict: Verdict
    predicted: str | None
    gold: str
    reason: str


@dataclass(frozen=True)
class _Outcome:
    verdict: Verdict
    reason: str


class _TooHard(Exception):
    """The expression is too large to evaluate safely (no timeouts exist off the main thread)."""


def check_answer(predicted: str | None, gold: str, question: str | None = None) -> RuleCheck:
    """Judge `predicted` against `gold`. Thread-safe; never raises; UNDECIDED where the rule cannot tell. The
    `question`, when given, only decides a number said with its word (`12th grade`, `5 apples`) against a bare one."""
    result = _check(predicted, gold, question, parse=True)
    assert result is not None  # with parsing, the rule always reaches a verdict
    return result


def check_without_parsing(predicted: str | None, gold: str) -> RuleCheck | None:
    """The verdicts the rule reaches without parsing (too long, no answer, written alike: most right answers), in
    about 0.1 ms; None when it would parse. Callers on an event loop send only the rest to a worker thread."""
    return _check(predicted, gold, None, parse=False)


def _check(predicted: str | None, gold: str, question: str | None, parse: bool) -> RuleCheck | None:
    if len(gold) > MAX_RAW_CHARS or (predicted and len(predicted) > MAX_RAW_CHARS):
        shown = predicted[:MAX_ANSWER_CHARS] if predicted else None
        return RuleCheck(Verdict.UNDECIDED, shown, gold[:MAX_ANSWER_CHARS], f"longer than {MAX_RAW_CHARS} characters")
    gold_norm, pred_norm = normalise(gold), normalise(predicted or "")
    if not pred_norm.text:
        return RuleCheck(Verdict.INCORRECT, None, gold_norm.shown(), "no answer")
    if (pred_norm.text, pred_norm.unit, pred_norm.percent) == (gold_norm.text, gold_norm.unit, gold_norm.percent):
        outcome = _Outcome(Verdict.CORRECT, "same answer")  # written alike: no parsing needed (most right answers)
    elif not parse:
        return None
    elif question and (asked := _asked_number(gold_norm, pred_norm, question)) is not None:
        outcome = asked
    elif max(len(gold_norm.text), len(pred_norm.text)) > MAX_ANSWER_CHARS:
        outcome = _Outcome(Verdict.UNDECIDED, f"answer longer than {MAX_ANSWER_CHARS} characters")
    elif POWER_TOWER.search(pred_norm.text) or POWER_TOWER.search(gold_norm.text):
        outcome = _Outcome(Verdict.UNDECIDED, "ambiguous power tower a^b^c (write a^{b^c})")
    else:
        try:
            outcome = _compare_answers(gold_norm, pred_norm)
        except _TooHard as error:
            outcome = _Outcome(Verdict.UNDECIDED, f"not evaluated by rule: {error}")
        except (Exception, RecursionError) as error:  # the rule must never take the caller down
            outcome = _Outcome(Verdict.UNDECIDED, f"rule check failed: {type(error).__name__}")
    if outcome.verdict == Verdict.CORRECT and _unreduced_fraction(predicted or "") and not _unreduced_fraction(gold):
        outcome = _Outcome(Verdict.UNDECIDED, "equal value, but a fraction not in lowest terms: the question decides")
    return RuleCheck(outcome.verdict, pred_norm.shown(), gold_norm.shown(), outcome.reason)


def _asked_number(gold: Normalised, pred: Normalised, question: str) -> _Outcome | None:
    """One side a number with its word (`12th grade`, `5 apples`), the other without: when the question asks for
    that word (`What grade`, `How many apples`), the numbers decide; when it counts another (`How many minutes`
    for `3 hours`), UNDECIDED; else None (as without the question)."""
    if gold.percent or pred.percent or len(question) > MAX_RAW_CHARS:
        return None
    gold_counted, pred_counted = counted(gold.text, gold.unit), counted(pred.text, pred.unit)
    said, bare = (pred_counted, gold) if pred_counted else (gold_counted, pred)
    if said is None or (gold_counted and pred_counted) or bare.unit:
        return None  # neither or both carry a word: compared as usual
    asked, counts = asked_words(question)
    if said.words & asked:
        numbers = (gold.text, said.number) if pred_counted else (said.number, pred.text)
        outcome = _compare(*numbers)
        return _Outcome(outcome.verdict, f"the question asks for the {' '.join(sorted(said.words))}: {outcome.reason}")
    if counts:
        return _Outcome(Verdict.UNDECIDED, f"said in {' '.join(sorted(said.words))}, the question counts "
                                           f"{' '.join(sorted(counts))}")
    return None


def _compare_answers(gold: Normalised, pred: Normalised) -> _Outcome:
    if gold.unit and pred.unit and gold.unit.rstrip("s") != pred.unit.rstrip("s"):
        return _Outcome(Verdict.UNDECIDED, f"different units: {gold.unit} vs {pred.unit}")
    return _compare(gold.text, pred.text, gold.percent, pred.percent)


def _compare(gold: str, pred: str, gold_percent: bool = False, pred_percent: bool = False) -> _Outcome:
    gold, pred = strip_assignment(gold), strip_assignment(pred)
    if (outcome := _compare_matrices(gold, pred)) is not None:
        return outcome
    gold_base, pred_base = base_number(gold), base_number(pred)
    if gold_base is not None or (pred_base is not None and is_numeral(gold)):
        return _compare_bases(gold, gold_base, pred)
    if pred_base is not None:  # `2114five` against a gold that is no numeral: compare its value
        pred = _base_ten(*pred_base) or pred
    if (gold_words := word_answer(gold)) is not None:
        return _compare_words(gold_words, pred)
    if (gold_parts := ratio_parts(gold)) is not None:
        return _compare_ratios(gold_parts, pred)
    if (pred_parts := ratio_parts(pred)) is not None:
        if len(pred_parts) == 2 and _compare(gold, _as_fraction(pred_parts)).verdict == Verdict.CORRECT:
            return _Outcome(Verdict.UNDECIDED, "a ratio where a number was expected")
        return _Outcome(Verdict.INCORRECT, "a ratio where a number was expected")
    if word_answer(pred) is not None:
        if re.search(r"\d", pred):
            return _Outcome(Verdict.UNDECIDED, "prediction is prose around a number")
        return _Outcome(Verdict.INCORRECT, "prediction is prose, not mathematics")
    return _compare_shapes(gold, pred, gold_percent, pred_percent)


def _compare_matrices(gold: str, pred: str) -> _Outcome | None:
    """A LaTeX matrix against one written out (`[[1,2],[3,4]]`, `((1,2),(3,4))`, `[1, 2; 3, 4]`, `1,2;3,4`): entry by
    entry, in order. A column vector against a flat tuple or list: in order; CORRECT unless the brackets leave doubt
    (no brackets, or a gold `[a, b]` that may be an interval: UNDECIDED). A row vector against a flat tuple with the
    same entries is UNDECIDED. None (compare as usual) when neither side is a LaTeX matrix, or both are."""
    gold_rows, pred_rows = latex_matrix(gold), latex_matrix(pred)
    if (gold_rows is None) == (pred_rows is None):
        return None
    latex_rows = gold_rows or pred_rows
    assert latex_rows is not None
    other = pred if gold_rows else gold
    if (other_rows := written_matrix(other)) is not None:
        return _compare_grids(*((latex_rows, other_rows) if gold_rows else (other_rows, latex_rows)))
    kind, items, brackets = answer_shape(other)
    rows, columns = len(latex_rows), len(latex_rows[0])
    if kind not in ("tuple", "list") or 1 not in (rows, columns):
        return None  # a flat tuple against a matrix: compared as usual
    if len(items) != rows * columns:
        wrong_length = _Outcome(Verdict.INCORRECT, f"{len(items)} components, expected a {rows}-vector")
        return wrong_length if columns == 1 else None
    entries = [entry for row in latex_rows for entry in row]
    gold_items, pred_items = (entries, items) if gold_rows else (items, entries)
    outcome = _compare_in_order(gold_items, pred_items, "vector")
    if outcome.verdict != Verdict.CORRECT:
        return outcome if columns == 1 else None
    if columns > 1:
        return _Outcome(Verdict.UNDECIDED, "a row vector against a tuple with the same entries")
    if kind == "list" or (pred_rows and brackets == "[]"):
        return _Outcome(Verdict.UNDECIDED, f"a column vector against {brackets or 'a bare list'}: brackets leave doubt")
    return _Outcome(Verdict.CORRECT, "every vector component equal, in order")


def _compare_grids(gold_rows: Rows, pred_rows: Rows) -> _Outcome:
    gold_shape, pred_shape = (len(gold_rows), len(gold_rows[0])), (len(pred_rows), len(pred_rows[0]))
    if gold_shape != pred_shape:
        return _Outcome(Verdict.INCORRECT, "a {}x{} matrix, expected {}x{}".format(*pred_shape, *gold_shape))
    flat = [[entry for row in rows for entry in row] for rows in (gold_rows, pred_rows)]
    return _compare_in_order(flat[0], flat[1], "matrix entry")


def _compare_words(gold_words: str, pred: str) -> _Outcome:
    pred_words = word_answer(pred) or canonical_words(pred)
    if pred_words == gold_words:
        return _Outcome(Verdict.CORRECT, "same words (ignoring case)")
    if len(gold_words) == 1:
        return _compare_choices(gold_words, pred)
    if same_vocabulary(gold_words, pred_words):
        return _Outcome(Verdict.INCORRECT, f"'{pred_words}' is another choice than '{gold_words}'")
    return _Outcome(Verdict.UNDECIDED, "free-text answer worded differently")


def _compare_choices(gold_letter: str, pred: str) -> _Outcome:
    """A choice-letter gold (`C`): other letters (`B`, `(B)`, `C, D`) or a number are wrong; prose is undecided."""
    letters = choice_letters(pred)
    if letters is not None:
        return _Outcome(Verdict.INCORRECT, f"chose {', '.join(letters)}")
    if _numeric(_parse(pred)[0]) is not None:
        return _Outcome(Verdict.INCORRECT, "a number where a choice letter was expected")
    return _Outcome(Verdict.UNDECIDED, "free-text answer to a choice question")


def _compare_bases(gold: str, gold_base: tuple[str, int] | None, pred: str) -> _Outcome:
    """`2114_5` = `2114five` = `2114` (base left implicit); the same value in base ten is UNDECIDED."""
    gold_digits, gold_radix = gold_base or (gold.upper(), None)
    pred_base = base_number(pred)
    if pred_base is None and not is_numeral(pred):
        return _Outcome(Verdict.INCORRECT, "not a numeral")
    pred_digits, pred_radix = pred_base or (pred.upper(), None)
    if pred_digits == gold_digits and (gold_radix == pred_radix or None in (gold_radix, pred_radix)):
        return _Outcome(Verdict.CORRECT, "same digits in the same base")
    try:
        same_value = int(gold_digits, gold_radix or 10) == int(pred_digits, pred_radix or 10)
    except ValueError:
        return _Outcome(Verdict.INCORRECT, f"not a valid numeral in base {pred_radix or gold_radix or 10}")
    if same_value:
        return _Outcome(Verdict.UNDECIDED, "same number written in another base")
    return _Outcome(Verdict.INCORRECT, "different numeral")


def _base_ten(digits: str, base: int) -> str | None:
    try:
        return str(int(digits, base))
    except ValueError:
        return None


def _compare_ratios(gold_parts: list[str], pred: str) -> _Outcome:
    pred_parts = ratio_parts(pred)
    if pred_parts is None:
        if len(gold_parts) == 2 and _compare(_as_fraction(gold_parts), pred).verdict == Verdict.CORRECT:
            return _Outcome(Verdict.UNDECIDED, "ratio given as a single number")
        return _Outcome(Verdict.INCORRECT, f"expected a ratio of {len(gold_parts)} parts")
    if len(pred_parts) != len(gold_parts):
        return _Outcome(Verdict.INCORRECT, f"ratio of {len(pred_parts)} parts, expected {len(gold_parts)}")
    outcome = _compare_in_order(gold_parts, pred_parts, "ratio")
    if outcome.verdict == Verdict.INCORRECT and _proportional(gold_parts, pred_parts):
        return _Outcome(Verdict.INCORRECT, "equivalent ratio, but not in the gold's (lowest) terms")
    return outcome


def _as_fraction(parts: list[str]) -> str:
    return f"\\frac{{{parts[0]}}}{{{parts[1]}}}"


def _proportional(gold_parts: list[str], pred_parts: list[str]) -> bool:
    gold_values = [_numeric(_parse(part)[0]) for part in gold_parts]
    pred_values = [_numeric(_parse(part)[0]) for part in pred_parts]
    if any(value is None or value == 0 for value in gold_values + pred_values):
        return False
    scale = pred_values[0] / gold_values[0]
    return all(_is_zero(p - scale * g, p) for g, p in zip(gold_values, pred_values, strict=True))


def _compare_shapes(gold: str, pred: str, gold_percent: bool, pred_percent: bool) -> _Outcome:
    gold_kind, gold_items, gold_brackets = answer_shape(gold)
    pred_kind, pred_items, pred_brackets = answer_shape(pred)
    if gold_kind == "single":
        return _compare_scalar(gold, pred, gold_percent, pred_percent)
    if gold_kind == "tuple":
        if pred_kind == "tuple" and pred_brackets != gold_brackets:
            return _Outcome(Verdict.INCORRECT, f"brackets {pred_brackets} instead of {gold_brackets}")
        if pred_kind == "single" and INEQUALITY.search(pred):
            return _set_in_other_notation(gold, pred)
        if pred_kind not in ("tuple", "list") or len(pred_items) != len(gold_items):
            return _Outcome(Verdict.INCORRECT, f"expected an ordered {len(gold_items)}-tuple in {gold_brackets}")
        outcome = _compare_in_order(gold_items, pred_items, "tuple")
        if pred_kind == "list" and outcome.verdict == Verdict.CORRECT:
            return _Outcome(Verdict.UNDECIDED, f"right components in order, but without the brackets {gold_brackets}")
        return outcome
    if pred_kind == "single":
        pred_items = expand_items([pred])
    return _compare_unordered(gold_items, pred_items)


def _compare_in_order(gold_items: list[str], pred_items: list[str], what: str) -> _Outcome:
    outcomes = [_compare(g, p) for g, p in zip(gold_items, pred_items, strict=True)]
    for verdict in (Verdict.INCORRECT, Verdict.UNDECIDED):
        for index, outcome in enumerate(outcomes, start=1):
            if outcome.verdict == verdict:
                return _Outcome(verdict, f"{what} part {index}: {outcome.reason}")
    return _Outcome(Verdict.CORRECT, f"every {what} part equal, in order")


def _compare_unordered(gold_items: list[str], pred_items: list[str]) -> _Outcome:
    if len(gold_items) != len(pred_items):
        return _Outcome(Verdict.INCORRECT, f"{len(pred_items)} answers, expected {len(gold_items)}")
    if len(gold_items) > MAX_UNORDERED_ITEMS:
        raise _TooHard(f"more than {MAX_UNORDERED_ITEMS} unordered items")
    table = [[_compare(g, p).verdict for p in pred_items] for g in gold_items]
    for accepted, verdict in (({Verdict.CORRECT}, Verdict.CORRECT), ({Verdict.CORRECT, Verdict.UNDECIDED}, None)):
        for order in itertools.permutations(range(len(pred_items))):
            if all(table[g][p] in accepted for g, p in enumerate(order)):
                if verdict is Verdict.CORRECT:
                    return _Outcome(Verdict.CORRECT, "same elements (order ignored)")
                return _Outcome(Verdict.UNDECIDED, "elements match only up to undecided pairs")
    return _Outcome(Verdict.INCORRECT, "elements differ")


def _compare_scalar(gold: str, pred: str, gold_percent: bool, pred_percent: bool) -> _Outcome:
    """Scalars; a plain-text `k/2w` is read both as k/(2w) and (k/2)w, and UNDECIDED if that matters."""
    outcome = _compare_one_reading(gold, pred, gold_percent, pred_percent)
    other_reading = AMBIGUOUS_DIVISION.sub(r"/\1\\cdot ", pred)
    if other_reading != pred:
        other = _compare_one_reading(gold, other_reading, gold_percent, pred_percent)
        if other.verdict != outcome.verdict:
            return _Outcome(Verdict.UNDECIDED, f"ambiguous division in '{pred}': {outcome.verdict} or {other.verdict}")
    return outcome


def _compare_one_reading(gold: str, pred: str, gold_percent: bool, pred_percent: bool) -> _Outcome:
    gold_expr, gold_parsed = _parse(gold)
    pred_expr, pred_parsed = _parse(pred)
    if gold_expr is None:
        if gold.replace(" ", "").lower() == pred.replace(" ", "").lower():
            return _Outcome(Verdict.CORRECT, "same text (gold not parseable)")
        return _Outcome(Verdict.UNDECIDED, "gold is not parseable as mathematics")
    if pred_expr is None:
        if re.search(r"\d", pred):
            return _Outcome(Verdict.UNDECIDED, "prediction not parseable as mathematics")
        return _Outcome(Verdict.INCORRECT, "prediction not parseable as mathematics")
    _guard(gold_expr, pred_expr)
    outcome = _compare_parsed(gold, gold_expr, gold_parsed, pred, pred_expr, pred_parsed)
    if gold_percent == pred_percent or outcome.verdict == Verdict.CORRECT:
        return outcome if gold_percent == pred_percent else _Outcome(Verdict.CORRECT, "same number, % sign aside")
    factor = Rational(1, 100) if gold_percent else Rational(100)
    pred_value = _numeric(pred_expr)
    if pred_value is not None:
        scaled = _compare_parsed(gold, gold_expr, gold_parsed, None, pred_value / factor, [])
        if scaled.verdict != Verdict.INCORRECT:
            return _Outcome(Verdict.UNDECIDED, "percent vs fraction (e.g. 50% vs 0.5): depends on the question")
    return outcome


def _parse(text: str) -> tuple[Basic | MatrixBase | None, list]:
    """math-verify's parse of one answer; no signal-based timeout, so it works in worker threads."""
    parsed = parse(f"${text}$", extraction_config=[LatexExtractionConfig()], parsing_timeout=None)
    exprs = [item for item in parsed if isinstance(item, (Basic, MatrixBase))]
    return (exprs[0] if exprs else None), parsed


def _compare_parsed(gold: str, gold_expr, gold_parsed: list, pred: str | None, pred_expr, pred_parsed: list):
    gold_value, pred_value = _numeric(gold_expr), _numeric(pred_expr)
    if gold_value is not None and pred_value is not None:
        return _compare_numbers(gold, gold_value, gold_parsed, pred, pred_value, pred_parsed)
    if verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return _Outcome(Verdict.CORRECT, "math-verify: equivalent")
    if _equal_at_random_points(gold_expr, pred_expr):
        return _Outcome(Verdict.CORRECT, "equal at random points")
    if pred is not None and INEQUALITY.search(pred):
        return _set_in_other_notation(gold, pred)
    return _Outcome(Verdict.INCORRECT, "not equivalent")


def _set_in_other_notation(gold: str, pred: str) -> _Outcome:
    """An interval gold answered with inequalities (`(2,5)` vs `2 < x < 5`): the question decides."""
    (gold_expr, gold_parsed), (pred_expr, pred_parsed) = _parse(gold), _parse(pred)
    if gold_expr is None or pred_expr is None:
        return _Outcome(Verdict.INCORRECT, "not equivalent")
    _guard(gold_expr, pred_expr)
    if verify(gold_parsed, pred_parsed, allow_set_relation_comp=True, timeout_seconds=None):
        return _Outcome(Verdict.UNDECIDED, "the same set written as inequalities")
    return _Outcome(Verdict.INCORRECT, "a different set")


def _compare_numbers(gold: str, gold_value, gold_parsed: list, pred: str | None, pred_value, pred_parsed: list):
    difference = abs(sympy.N(gold_value - pred_value, 50))
    gold_places = decimal_places(gold)
    if gold_places is not None:
        half_unit = Rational(5, 10 ** (gold_places + 1))
        if difference <= half_unit:
            return _Outcome(Verdict.CORRECT, f"equal when rounded to the gold's {gold_places} decimal place(s)")
        if difference < 2 * half_unit:
            return _Outcome(Verdict.UNDECIDED, "within one unit of the gold's last digit (rounding vs truncation)")
        return _Outcome(Verdict.INCORRECT, "different value")
    if _is_zero(difference, gold_value):
        return _Outcome(Verdict.CORRECT, "equal value")
    if pred_value.has(Float):
        pred_places = decimal_places(pred)
        tolerance = Rational(5, 10 ** (pred_places + 1)) if pred_places is not None else 1e-6 * abs(gold_value)
        if difference <= tolerance:
            return _Outcome(Verdict.UNDECIDED, "decimal approximation of an exact answer")
        return _Outcome(Verdict.INCORRECT, "different value")
    if pred_parsed and verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return _Outcome(Verdict.CORRECT, "math-verify: equivalent")
    return _Outcome(Verdict.INCORRECT, "different value")


UNREDUCED = re.compile(r"^-?(?:\\[dt]?frac\{(\d+)\}\{(\d+)\}|(\d+)\s*/\s*(\d+))$")


def _unreduced_fraction(text: str) -> bool:
    """`42/63`, `\\frac{84}{42}` as written: a fraction whose parts share a factor."""
    match = UNREDUCED.match(text.replace(" ", "").strip("$"))
    if not match:
        return False
    numerator, denominator = (int(g) for g in match.groups() if g is not None)
    return denominator != 0 and math.gcd(numerator, denominator) > 1


def _numeric(expr) -> Basic | None:
    """The expression as a finite (possibly complex) number, `i` read as the imaginary unit; else None."""
    if expr is None or not isinstance(expr, sympy.Expr) or isinstance(expr, (sympy.Tuple, sympy.Set)):
        return None
    value = _imaginary_unit(expr).doit()
    if value.free_symbols or not value.is_number or value.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return None
    return value


def _is_zero(difference, scale) -> bool:
    size = abs(sympy.N(difference, 50))
    return bool(size <= Rational(1, 10**40) * max(1, abs(sympy.N(scale, 50))))


def _equal_at_random_points(gold_expr, pred_expr) -> bool:
    """Same free symbols and equal at three random points: catches what `simplify` misses."""
    plain = (Relational, sympy.Set, sympy.Tuple, MatrixBase)
    if not isinstance(gold_expr, sympy.Expr) or not isinstance(pred_expr, sympy.Expr):
        return False
    if isinstance(gold_expr, plain) or isinstance(pred_expr, plain):
        return False
    gold_expr, pred_expr = _imaginary_unit(gold_expr), _imaginary_unit(pred_expr)
    symbols = gold_expr.free_symbols
    if not symbols or symbols != pred_expr.free_symbols:
        return False
    rng = random.Random(0)
    for _ in range(3):
        point = {symbol: Rational(rng.randint(11, 97), rng.randint(7, 31)) for symbol in symbols}
        difference = sympy.N((gold_expr - pred_expr).subs(point).doit(), 30)
        scale = abs(sympy.N(gold_expr.subs(point), 30))
        if not difference.is_number or abs(difference) > Rational(1, 10**20) * max(1, scale):
            return False
    return True


def _imaginary_unit(expr: Basic) -> Basic:
    return expr.subs({symbol: I for symbol in expr.free_symbols if getattr(symbol, "name", "") == "i"})


def _guard(*exprs) -> None:
    """Refuse what would not finish: power towers, huge factorials, sums and integrals to evaluate."""
    for node in (node for expr in exprs for node in (expr if isinstance(expr, MatrixBase) else [expr])):
        if isinstance(node, Basic):
            if node.has(*SLOW_NODES):
                raise _TooHard("contains a sum, product, limit, derivative or integral")
            if _log10_bound(node) > MAX_DIGITS:
                raise _TooHard(f"a number with more than {MAX_DIGITS:,} digits")


def _log10_bound(expr: Basic) -> float:
    """A rough upper bound on log10 |expr| for numeric parts (symbols count as 1)."""
    if isinstance(expr, sympy.Integer):
        return max(math.log10(abs(int(expr))), 0.0) if expr != 0 else 0.0
    if isinstance(expr, sympy.Rational):
        return max(math.log10(abs(expr.p)), math.log10(expr.q), 0.0)
    if isinstance(expr, Float):
        return math.log10(abs(float(expr))) if abs(expr) > 1 else 0.0
    if isinstance(expr, sympy.Pow):
        base, exponent = _log10_bound(expr.base), _log10_bound(expr.exp)
        return math.inf if exponent > 7 else 10**exponent * max(base, 1.0)
    if isinstance(expr, (sympy.factorial, sympy.gamma, sympy.factorial2, sympy.binomial, sympy.fibonacci)):
        argument = max((_log10_bound(arg) for arg in expr.args), default=0.0)
        return math.inf if argument > 5 else 10**argument * max(argument, 1.0)
    bounds = [_log10_bound(arg) for arg in expr.args if isinstance(arg, Basic)]
    if isinstance(expr, sympy.Mul):
        return sum(bounds)
    return max(bounds, default=0.0) + (1.0 if isinstance(expr, sympy.Add) else 0.0)
