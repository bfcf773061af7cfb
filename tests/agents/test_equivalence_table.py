"""The rule check, row by row: real O'Bryan / MATH-500 / DeepSeek-R1 answers and hand-made hard forms.

Each row is (gold, predicted, expected verdict). Rows marked `# R1` are real teacher answers from
obryan_r1_2011_2019.jsonl; golds without a mark are real O'Bryan or MATH-500 answers unless they are
obviously made up to probe a decision (see the policy in agents/equivalence.py).
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from distill.agents.equivalence import RuleCheck, Verdict, check_answer
from math_verify import parse

C, W, U = Verdict.CORRECT, Verdict.INCORRECT, Verdict.UNDECIDED  # correct, wrong, undecided

TABLE = [
    # column vectors (pmatrix/bmatrix without &) against tuples; a tuple against a matrix with & is not guessed
    ("\\begin{pmatrix} 1 \\\\ 2 \\\\ 3 \\end{pmatrix}", "(1, 2, 3)", C),
    ("(1, 2)", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", C),
    ("\\begin{pmatrix} -1/2 \\\\ 3 \\end{pmatrix}", "(-\\frac{1}{2}, 3)", C),
    ("\\begin{bmatrix} 4 \\\\ -1 \\end{bmatrix}", "(4, -1)", C),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(2, 1)", W),
    # 2x2 matrices in pmatrix/bmatrix against nested brackets and `;`-separated rows, entry by entry
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "[[1,2],[3,4]]", C),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "((1,2),(3,4))", C),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "[1, 2; 3, 4]", C),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "1,2;3,4", C),
    ("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", "[[1,2],[3,4]]", C),
    ("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", "[1, 2; 3, 4]", C),
    ("\\begin{bmatrix} -1/2 & 0 \\\\ \\sqrt{2} & 4 \\end{bmatrix}", "((-0.5, 0), (√2, 4))", C),
    ("[[1,2],[3,4]]", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", C),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "[[1,2],[3,5]]", W),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "1,2;4,3", W),
    ("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", "((1,3),(2,4))", W),  # transposed
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "[1, 2, 3; 4, 5, 6]", W),  # 2x3
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "(1, 2, 3, 4)", W),  # flat tuple is no matrix
    # a column vector against square brackets; brackets that leave doubt are not guessed
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "[1, 2]", C),
    ("\\begin{bmatrix} 3 \\\\ -1 \\\\ 0 \\end{bmatrix}", "[3, -1, 0]", C),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "[2, 1]", W),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1, 2, 0)", W),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "1, 2", U),  # no brackets
    ("[1, 2]", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", U),  # the gold may be an interval
    ("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "(1, 2)", U),  # row vector against a tuple
    # function names without their backslash
    ("\\cot x", "cot x", C),
    ("\\csc^2 x", "csc^2 x", C),
    ("\\cot x", "tan x", W),
    # U written for \cup in interval unions
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty, 2) U (3, \\infty)", C),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-∞, 2) U (3, ∞)", C),
    ("(1, 2) \\cup (3, 4)", "(1, 2) U (3, 5)", W),
    # a number with an ordinal word: the question decides, which the rule does not see
    ("12", "12th grade", U),
    # ratios: compared part by part, in the gold's terms
    ("6:7", "6:7", C),  # R1
    ("6:7", "6 : 7", C),
    ("6:7", "6 to 7", C),
    ("6:7", "$6:7$", C),
    ("6:7", "12:14", W),  # unreduced: a demanding grader wants lowest terms
    ("2/3", "\\frac{42}{63}", U),  # unreduced fraction: "reduce to lowest terms" is in the question, if anywhere
    ("2/3", "42/63", U),
    ("2", "84/42", U),
    ("2/3", "\\frac{2}{3}", C),
    ("2/3", "-42/63", W),
    ("6:7", "7:6", W),
    ("6:7", "6/7", U),  # a ratio given as a fraction: depends on the question
    ("15:13:12", "15:13:12", C),  # R1
    ("15:13:12", "15:12:13", W),
    ("15:13:12", "15:13", W),
    ("2:5", "0.4", U),
    ("6/7", "6:7", U),  # and the other way round: a ratio where a number was asked
    ("3", "1:3", W),
    # radicals, unicode and plain text
    ("36√2", "36√2", C),  # R1
    ("36√2", "36\\sqrt{2}", C),
    ("36√2", "\\sqrt{2592}", C),
    ("36√2", "36\\sqrt{3}", W),
    ("10√59", "10 \\sqrt{59}", C),
    ("¾b√a", "\\frac{3}{4}b\\sqrt{a}", C),
    ("¾b√a", "\\frac{3b\\sqrt{a}}{4}", C),
    ("¾b√a", "\\frac{3}{4}a\\sqrt{b}", W),
    ("√53", "sqrt(53)", C),  # R1
    ("26", "2√194", W),  # R1
    ("1 + 2√2", "2\\sqrt2+1", C),
    ("-6 + √6", "√6 − 6", C),
    ("6 + 3√2 + 12√3", "6+12\\sqrt{3}+3\\sqrt{2}", C),
    ("2√3", "\\sqrt{12}", C),
    ("\\sqrt2", "√2", C),
    ("i", "√(-1)", C),
    ("i-1", "-1+i", C),
    ("i-1", "1-i", W),
    ("5π", "5\\pi", C),  # R1 form
    ("4π", "12.566", U),  # a decimal for an exact answer
    ("4π", "4", W),
    ("-1429", "−1429", C),  # U+2212 minus
    ("2x^2", "2x²", C),
    ("8", "2³", C),
    ("12", "3×4", C),
    # thousands separators vs lists
    ("13,680", "13680", C),
    ("13,680", "13,680", C),
    ("13,680", "13700", W),  # R1: rounded
    ("1,004", "1004", C),
    ("1,004", "1, 4", W),
    ("$1,000", "1000", C),
    ("1000", "$1,000", C),
    ("1000", "1,000.00", C),
    ("10,\\!080", "10080", C),
    ("\\$32,\\!348", "32348", C),
    ("209/14,400", "\\frac{209}{14400}", C),
    ("1,-2", "-2, 1", C),  # MATH-500: a list of solutions, unordered
    ("1,2", "12", W),
    # decimals: a decimal gold accepts what rounds to it at its precision
    ("13.10", "13.1", C),
    ("13.10", "13.10", C),  # R1
    ("2.580", "2.58", C),
    ("35.5", "35.50", C),
    ("$3.00", "3", C),
    ("3", "$3.00", C),
    ("3.33", "10/3", C),
    ("1.618", "(1+√5)/2", C),
    ("0.1571", "0.15714", C),
    ("46.07", "\\frac{40\\sqrt{65}}{7}", C),
    ("9.6", "48/5", C),
    ("4.5", "9/2", C),  # R1
    ("0.333", "1/3", C),
    ("88.443", "88.4437", U),  # off by one in the last digit: truncated, or wrong
    ("648.36", "648.18", W),  # R1
    ("0.01796", "0.018", W),  # less precise than the gold
    ("2/3", "0.6", W),
    # an exact gold accepts a decimal only when equal
    ("1/2", "0.5", C),
    ("1/8", "0.125", C),
    ("1/3", "0.333", U),
    ("1/3", "0.3333333333", U),
    ("2/3", "0.67", U),
    ("\\frac{14}{3}", "4.\\overline{6}", C),  # a repeating decimal is exact
    ("1/6", "0.1\\overline{6}", C),
    # percentages
    ("50%", "50", C),
    ("50%", "50\\%", C),
    ("50%", "50 percent", C),
    ("50%", "0.5", U),
    ("0.5", "50%", U),
    ("12.5%", "1/8", U),
    ("50%", "5", W),
    # assignments, degrees, units, money
    ("x=3", "3", C),
    ("3", "x = 3", C),
    ("x=5", "x=-5", W),
    ("y = 2x + 3", "2x+3", C),
    ("y = 2x + 3", "y=3+2x", C),
    ("3060", "3060°", C),
    ("90^\\circ", "90", C),
    ("90^\\circ", "90 degrees", C),
    ("90^\\circ", "\\frac{\\pi}{2}", W),
    ("\\frac{270}7\\text{ degrees}", "270/7", C),
    ("15", "15 feet", C),
    ("15 feet", "15 inches", U),
    ("864 \\mbox{ inches}^2", "864", C),
    ("5.4 \\text{ cents}", "5.4", C),
    ("\\$18.90", "18.9", C),
    ("\\$36", "36 dollars", C),
    ("12\\pi \\text{ cm}^2", "12π cm²", C),
    ("x^2 + 2xy", "x^2 + 2", W),  # `xy` after a space is no unit when the value has variables
    # ordered pairs and triples: order and brackets matter
    ("(8,23)", "(8,23)", C),  # R1
    ("(-2,7)", "(-2, 7)", C),  # R1
    ("(10, 9)", "(10,9)", C),  # R1
    ("(1, -1)", "(-1, 1)", W),
    ("(10, 9)", "(9, 10)", W),
    ("(4, 3, 4)", "(4,4,3)", W),
    ("(4, 3, 4)", "(4, 3)", W),
    ("(9,5)", "(x, y) = (9, 5)", C),
    ("(2,7)", "2, 7", U),  # right numbers, brackets missing
    ("(2,7)", "[2,7]", W),
    ("(3,2)", "\\{3,2\\}", W),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, π/2)", C),
    # intervals and infinity
    ("(2,\\infty)", "(2, ∞)", C),
    ("(-\\infty, 0]", "(-∞, 0]", C),
    ("(-\\infty, 0]", "(-∞, 0)", W),
    ("(3,4]", "(3,4]", C),
    ("(3,4]", "[3,4]", W),
    ("\\left(\\frac{3}{5},\\frac{8}{3}\\right]", "(0.6, 8/3]", C),
    ("(0,9) \\cup (9,36)", "(0,9)∪(9,36)", C),
    ("x \\in [-2,7]", "[-2, 7]", C),
    ("(2,5)", "2 < x < 5", U),  # interval notation asked for, inequality given
    ("(2,5)", "2 \\le x < 5", W),
    ("x \\in [-2,7]", "-2 \\le x \\le 7", U),
    ("x > 3", "(3, ∞)", C),
    # sets and lists: order ignored, count matters
    ("{2,3,7,8}", "{8,7,3,2}", C),
    ("{2,3,7,8}", "2, 3, 7, 8", C),
    ("{2,3,7,8}", "∅", W),  # R1
    ("{2,3,7,8}", "{2,3,7}", W),
    ("\\emptyset", "{}", C),
    ("\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt5, 1-\\sqrt5", C),
    ("1 \\pm \\sqrt{19}", "1-\\sqrt{19}, 1+\\sqrt{19}", C),
    ("1 \\pm \\sqrt{19}", "1+\\sqrt{19}", W),
    ("1 and -1/3", "-1/3, 1", C),
    ("1 and -1/3", "1 and 1/3", W),
    ("3, 5, 7", "7, 5, 3", C),
    # complex numbers
    ("-15/17 - 9/17 i", "-\\frac{15+9i}{17}", C),
    ("-15/17 - 9/17 i", "-15/17 + 9/17 i", W),
    ("6 - 5i", "6-5i", C),
    ("1+2i", "2i+1", C),
    # fractions and LaTeX forms
    ("7/12", "\\frac{7}{12}", C),
    ("7/12", "\\dfrac{7}{12}", C),
    ("40/3", "13\\frac{1}{3}", C),
    ("-12/13", "-\\frac{12}{13}", C),
    ("-12/13", "\\frac{12}{13}", W),
    ("9/10", "11/10", W),  # R1
    ("6", "30/7", W),  # R1
    ("-16", "8", W),  # R1
    ("10", "-10", W),  # R1
    ("100.5", "12", W),  # R1
    ("\\frac{3}{56}", "\\boxed{3/56}", C),
    (
        "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
        "\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{pmatrix}",
        C,
    ),
    ("\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "\\begin{pmatrix} 1/5 \\\\ 18/5 \\end{pmatrix}", W),
    # symbolic answers
    ("k/(2w)", "k/(2w)", C),  # R1
    ("k/(2w)", "\\frac{k}{2w}", C),
    ("k/(2w)", "k/2w", U),  # k/(2w) or (k/2)w
    ("1/(2π)", "1/2π", U),
    ("mp/(m + pr)", "(mp)/(m+pr)", C),  # R1
    ("2x + 5y", "2x+5y", C),  # R1
    ("2x + 5y", "5x+2y", W),
    ("e/(e-1)", "1/(1-e^{-1})", C),
    ("x+3", "3+x", C),
    ("p - q", "q - p", W),
    ("\\cot x", "\\frac{\\cos x}{\\sin x}", C),
    ("5x - 7y + 11z + 4 = 0", "-5x + 7y - 11z - 4 = 0", C),
    ("\\log_2 16", "4", C),
    ("4", "log₂ 625", W),
    # text answers: equal ignoring case; otherwise only a closed vocabulary decides
    ("Thursday", "Thursday", C),  # R1
    ("Thursday", "thursday", C),
    ("Thursday", "Friday", W),
    ("Thursday", "4", U),
    ("ALWAYS", "ALWAYS", C),  # R1
    ("NEVER", "SOMETIMES", W),  # R1
    ("NEVER", "**never**", C),
    ("Lose 18", "lose 18", C),  # R1
    ("Lose 18", "-18", U),
    ("INSIDE", "inside", C),
    ("INSIDE", "outside", W),
    ("\\text{Evelyn}", "Evelyn", C),
    ("\\text{Evelyn}", "Bob", U),
    ("\\text{ellipse}", "an ellipse", C),
    ("\\text{(C)}", "C", C),
    ("D", "C", W),
    ("D", "(D)", C),
    ("D", "D, E", W),  # a select-all-that-apply question: one letter too many
    ("D", "B and D", W),
    ("D", "35", W),
    ("C", "the region below a line", U),
    ("F", "F", C),  # R1
    ("37.5", "Please provide the problem.", W),  # R1
    # numerals in a base
    ("2114five", "2114_5", C),  # R1
    ("2114five", "2114", C),
    ("2114five", "284", U),  # the same number in base ten
    ("2114five", "2114_6", W),
    ("52_8", "52_9", W),  # math-verify alone drops the subscript and calls these equal
    ("4210_{5}", "4210_5", C),
    ("2516_8", "169/12", W),
    ("2114five", "2119_5", W),  # 9 is no base-5 digit
    ("3/2", "2114five", W),
    # no answer, and input the rule refuses to evaluate
    ("5", "", W),
    ("5", "   ", W),
    ("5", None, W),
    ("2", "2^{2^{2^{5}}}", U),
    ("2", "1000000!", U),
    ("2", "9^9^9", U),
    ("1/2", "\\int_0^1 x\\,dx", U),
    ("2", "1+" * 300 + "1", U),
    ("2", "9" * 3000, U),
]
# A number with an ordinal or unit word against the bare number: the question decides (question, gold, predicted).
GRADE, HOURS, MINUTES = "Sam is 17. What grade is he in?", "How many hours does it take?", "How many minutes is it?"
QUESTION_TABLE = [
    (GRADE, "12", "12th grade", C),
    (GRADE, "12th grade", "12", C),
    ("In which grade is a 10-year-old?", "5", "5th Grade", C),
    ("In which place did she finish?", "3", "3rd place", C),
    (GRADE, "11", "12th grade", W),
    (GRADE, "12th grade", "11", W),
    (None, "12", "12th grade", U),  # no question: an ordinal stays undecided
    ("Find the value of n.", "12", "12th grade", U),  # the question does not ask for a grade
    (MINUTES, "12", "12th grade", U),  # it counts something else
    (HOURS, "3", "3 hours", C),
    ("How many apples does Ann have?", "5", "5 apples", C),
    ("How many apples does Ann have?", "5", "6 apples", W),
    ("How many centimeters long is the rod?", "15", "15 cm", C),
    ("How many square feet is the room?", "864", "864 \\text{ square feet}", C),
    (MINUTES, "180", "3 hours", U),  # a different unit than asked: not guessed (was INCORRECT: 3 vs 180)
    (MINUTES, "3", "3 hours", U),
    ("How many oranges are left?", "5", "5 apples", U),
    (None, "5", "5 apples", C),  # units are dropped without a question, as before
    ("Find the total.", "5", "5 apples", C),
    (None, "180", "3 hours", W),
    (GRADE, "12", "13", W),  # a bare number is compared as usual
]
PATHOLOGICAL = ["2^{2^{2^{5}}}", "10^{10^{10}}", "1000000!", "(10^{9})!", "\\sum_{k=1}^{10^{12}} k^k", "9" * 3000]


@pytest.mark.parametrize("gold, predicted, expected", TABLE)
def test_rule_check(gold: str, predicted: str | None, expected: Verdict):
    check = check_answer(predicted, gold)
    assert check.verdict == expected, f"{gold!r} vs {predicted!r}: {check.verdict} ({check.reason})"


@pytest.mark.parametrize("question, gold, predicted, expected", QUESTION_TABLE)
def test_the_question_decides_a_number_said_with_its_word(question, gold, predicted, expected):
    check = check_answer(predicted, gold, question)
    assert check.verdict == expected, f"{question!r}: {gold!r} vs {predicted!r}: {check.verdict} ({check.reason})"


def test_a_question_that_asks_for_no_word_changes_no_verdict():
    for gold, predicted, expected in TABLE:
        if predicted is not None and len(predicted) < 200:
            assert check_answer(predicted, gold, "Compute it. What is x?").verdict == expected, (gold, predicted)


def test_table_is_long_and_covers_every_verdict():
    assert len(TABLE) >= 80
    assert {row[2] for row in TABLE} == {C, W, U}


def test_result_names_the_normalised_forms_and_a_reason():
    check = check_answer("$1,000", "36√2")
    assert isinstance(check, RuleCheck)
    assert (check.verdict, check.predicted, check.gold) == (W, "1000", "36\\sqrt{2}")
    assert check.reason == "different value"
    assert check_answer(None, "5") == RuleCheck(W, None, "5", "no answer")


def test_unreduced_ratio_reason_says_why():
    assert "lowest" in check_answer("12:14", "6:7").reason


def test_verdict_is_a_string_enum():
    assert Verdict("undecided") is U and f"{C}" == "correct"


def test_pathological_answers_are_refused_quickly_in_a_worker_thread():
    """Unguarded, `2^{2^{2^{5}}}` alone keeps math-verify busy for about 30 s (it has no timeout in threads)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        checks = list(pool.map(lambda predicted: check_answer(predicted, "2"), PATHOLOGICAL))
    assert [check.verdict for check in checks] == [U] * len(PATHOLOGICAL)
    assert time.perf_counter() - start < 5


def test_worker_threads_give_the_main_thread_verdicts():
    """math-verify's default signal timeouts fail off the main thread; check_answer must not."""
    in_main = [check_answer(predicted, gold) for gold, predicted, _ in TABLE]
    with ThreadPoolExecutor(max_workers=8) as pool:
        in_threads = list(pool.map(lambda row: check_answer(row[1], row[0]), TABLE * 3))
    assert in_threads == in_main * 3


def test_math_verify_defaults_do_fail_in_a_worker_thread():
    """Why every call passes parsing_timeout=None / timeout_seconds=None (the reason the test above exists)."""
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(ValueError, match="thread"):
        pool.submit(parse, "$\\frac{1}{2}$").result()


@pytest.mark.parametrize(("predicted", "gold", "expected"), [
    ("42", "42", Verdict.CORRECT), ("\\boxed{ 42 }", "42", Verdict.CORRECT), ("", "42", Verdict.INCORRECT),
    ("41", "42", None), ("\\frac{1}{2}", "0.5", None),
])
def test_without_parsing_decides_only_what_needs_no_parse(predicted, gold, expected):
    from distill.agents.equivalence import check_without_parsing

    quick = check_without_parsing(predicted, gold)
    assert (quick.verdict if quick else None) == expected
    if quick:
        assert quick == check_answer(predicted, gold)  # the same verdict, reason and readings as the full rule
