"""Normalise final answers into the LaTeX that math-verify parses, and name their shape.

Competition answers arrive as `6:7`, `36√2`, `$1,000`, `13.10`, `x=3`, `(8,23)`, `{2,3,7,8}`, `2114five`,
`Lose 18`; model answers as `\\boxed{\\dfrac{1}{2}}`, `sqrt(53)`, `90^\\circ`, `15 feet`. This module only
rewrites text; `agents.equivalence` decides what is equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WRAPPERS = ("\\boxed", "\\fbox", "\\text", "\\textbf", "\\textit", "\\textrm", "\\mathrm", "\\mathbf", "\\mbox")
UNICODE = {
    "π": "\\pi ", "∞": "\\infty ", "−": "-", "–": "-", "—": "-", "×": "\\times ", "·": "\\cdot ", "⋅": "\\cdot ",
    "÷": "\\div ", "±": "\\pm ", "∓": "\\mp ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "∪": "\\cup ",
    "∩": "\\cap ", "∅": "\\emptyset ", "θ": "\\theta ", "α": "\\alpha ", "β": "\\beta ", "φ": "\\phi ",
    "∈": "\\in ", "′": "'", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}
VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
          "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8)}
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
SUBSCRIPT = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
ROOTS = {"√": "", "∛": "[3]", "∜": "[4]"}
BASE_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
              "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16}
# Words that are mathematics, not prose, when deciding whether an answer is free text.
MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "lim", "max", "min", "gcd", "lcm", "det",
              "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "mod", "sqrt", "frac", "infty", "and", "or"}
OPEN, CLOSE = "([{", ")]}"
VOCABULARIES = (  # closed sets of word answers: another member of the same set is a wrong answer
    {"always", "sometimes", "never"}, {"inside", "outside", "on"}, {"yes", "no"}, {"true", "false"},
    {"even", "odd"}, {"north", "south", "east", "west"},
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"},
)


@dataclass(frozen=True)
class Normalised:
    """An answer rewritten for comparison: LaTeX text plus what was peeled off it."""

    text: str
    percent: bool = False
    unit: str | None = None

    def shown(self) -> str:
        return self.text + ("\\%" if self.percent else "") + (f" [{self.unit}]" if self.unit else "")


def normalise(answer: str) -> Normalised:
    """Unwrap, translate unicode and plain-text maths to LaTeX, drop separators, units, degrees, percent."""
    text = unwrap(answer)
    text = _translate_unicode(text)
    text = _translate_ascii(text)
    text = _clean_latex(text)
    text = _repeating_decimals(text)
    text = _drop_thousands_separators(text)
    text = _braces_as_set(text)
    text = re.sub(r"(?<![\w.}^_)])(\d+)/(\d+)(?![\w.\\({^!])", r"\\frac{\1}{\2}", text)  # `9/17 i`
    text, percent = _strip_percent(text)
    text, unit = _strip_unit(text)
    return Normalised(_squash(unwrap(text)), percent, unit)


def unwrap(text: str) -> str:
    """Peel `$..$`, `\\(..\\)`, `\\boxed{}`, a whole `\\text{}`, `**bold**`, money `$` and trailing periods."""
    while True:
        before = text
        text = text.strip().rstrip(".;").strip()
        if len(text) > 4 and text.startswith("**") and text.endswith("**"):
            text = text[2:-2]
        for left, right in (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left) : -len(right)]
        if len(text) > 2 and text[0] == "$" and text[-1] == "$" and "$" not in text[1:-1]:
            text = text[1:-1]
        elif text.startswith("$") and "$" not in text[1:]:  # money: "$3.00", "$1,000"
            text = text[1:]
        for command in WRAPPERS:
            if text.startswith(command + "{") and matching_close(text, len(command)) == len(text) - 1:
                text = text[len(command) + 1 : -1]
        if text.startswith("\\boxed ") and "{" not in text:
            text = text[len("\\boxed ") :]
        if text == before:
            return text


def matching_close(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at `start` (any of ([{ nest together), or None."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] in OPEN:
            depth += 1
        elif text[index] in CLOSE:
            depth -= 1
            if depth == 0:
                return index
    return None


def _translate_unicode(text: str) -> str:
    text = _translate_roots(text)
    for char, (num, den) in VULGAR.items():
        text = text.replace(char, f"\\frac{{{num}}}{{{den}}}")
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^{" + m.group().translate(SUPERSCRIPT) + "}", text)
    text = re.sub(r"[₀₁₂₃₄₅₆₇₈₉]+", lambda m: "_{" + m.group().translate(SUBSCRIPT) + "}", text)
    for char, latex in UNICODE.items():
        text = text.replace(char, latex)
    return text


def _translate_roots(text: str) -> str:
    """`36√2` -> `36\\sqrt{2}`, `√(-1)` -> `\\sqrt{-1}`, `b√a` -> `b\\sqrt{a}`, `∛x` -> `\\sqrt[3]{x}`."""
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char not in ROOTS:
            out.append(char)
            index += 1
            continue
        start = index + 1
        while start < len(text) and text[start] == " ":
            start += 1
        if start < len(text) and text[start] in "({":
            close = matching_close(text, start)
            end = len(text) if close is None else close
            radicand, index = text[start + 1 : end], end + 1
        else:
            match = re.match(r"\d+(?:\.\d+)?|\\[a-zA-Z]+|[a-zA-Z]", text[start:])
            radicand, index = (match.group(), start + match.end()) if match else ("", start)
        out.append(f"\\sqrt{ROOTS[char]}{{{radicand}}}" if radicand else f"\\sqrt{ROOTS[char]}")
    return "".join(out)


def _translate_ascii(text: str) -> str:
    """Plain-text maths: `sqrt(53)`, `2**3`, `pi`, `inf`, `<=`, `1.5e3`, `6 to 7`."""
    text = re.sub(r"(?<![\\a-zA-Z])sqrt\s*(?=[({\d])", "√", text)
    text = _translate_roots(text)
    text = text.replace("**", "^").replace("<=", "\\le ").replace(">=", "\\ge ").replace("!=", "\\ne ")
    text = re.sub(r"(?<![\\a-zA-Z])pi(?![a-zA-Z])", r"\\pi ", text)
    text = re.sub(r"(?<![\\a-zA-Z])(log|ln|sin|cos|tan|cot|sec|csc|exp)(?=[\s_({\d^])", r"\\\1", text)
    text = re.sub(r"(?<=[)\]])\s*U\s*(?=[(\[])", r" \\cup ", text)  # `(0, 1) U (2, 3)`: U for \cup
    text = re.sub(r"(?<![\\a-zA-Z])(?:infinity|inf)(?![a-zA-Z])", r"\\infty ", text, flags=re.IGNORECASE)
    text = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])", r"\1\\times 10^{\2}", text)
    return re.sub(r"^\s*([-\w.\\{}]+)\s+to\s+([-\w.\\{}]+)\s*$", r"\1:\2", text)


def _clean_latex(text: str) -> str:
    text = re.sub(r"\\left\s*\.|\\right\s*\.", "", text)
    text = re.sub(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])\s*", "", text)
    text = re.sub(r"\\[dt]frac(?![a-zA-Z])", r"\\frac", text)
    text = re.sub(r"\\(?:displaystyle|limits)(?![a-zA-Z])", "", text)
    text = text.replace("\\varnothing", "\\emptyset").replace("\\colon", ":").replace("\\$", "")
    text = re.sub(r",\\!\s*", ",", text).replace("{,}", ",")
    text = re.sub(r"(?<!\\)\\[!,;:> ]|~", " ", text)
    text = re.sub(r"\\(?:text|mathrm|mbox)\{\s*(and|or)\s*\}", r" \1 ", text)
    text = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree|°", "", text)
    text = re.sub(r"\s*\\(?:text|mathrm|mbox)\{\s*degrees?\s*\}|\s+degrees?$", "", text)
    return _squash(text)


def _drop_thousands_separators(text: str) -> str:
    """`13,680` -> `13680` where commas group exactly three digits, outside tuples, sets and intervals."""
    pattern = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?")
    out, last = [], 0
    for match in pattern.finditer(text):
        if bracket_depth(text[: match.start()]) == 0:
            out += [text[last : match.start()], match.group().replace(",", "")]
            last = match.end()
    return "".join(out) + text[last:]


def _braces_as_set(text: str) -> str:
    """A bare `{2,3,7,8}` (no backslash) is a set; `{}` is the empty set."""
    if text.replace(" ", "") == "{}":
        return "\\emptyset"
    if text.startswith("{") and matching_close(text, 0) == len(text) - 1 and len(split_top_level(text[1:-1])) > 1:
        return "\\{" + text[1:-1] + "\\}"
    return text


def bracket_depth(prefix: str) -> int:
    """How many (, [ or \\{ are open at the end of `prefix` (LaTeX argument braces do not count)."""
    prefix = prefix.replace("\\{", "(").replace("\\}", ")")
    return sum(prefix.count(c) for c in "([") - sum(prefix.count(c) for c in ")]")


def _strip_percent(text: str) -> tuple[str, bool]:
    stripped = re.sub(r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\\text\{\s*percent\s*\}|\s+percent)$", "", text)
    return stripped, stripped != text


def _strip_unit(text: str) -> tuple[str, str | None]:
    """`15 feet` -> (`15`, `feet`); `864 \\mbox{ inches}^2` -> (`864`, `inches^2`). Only after a number
    with no variables in it, so `x^2 + 2 xy` keeps its `xy`."""
    match = re.fullmatch(
        r"(?P<value>.*?(?:[\d})]|\\pi))(?:\s*\\(?:text|mathrm|mbox)\{\s*(?P<wrapped>[A-Za-z][A-Za-z .]*?)\s*\}"
        r"|\s+(?P<plain>[A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*))\s*(?P<power>\^\s*\{?\d\}?)?",
        text,
    )
    if not match or not re.search(r"\d", match["value"]) or re.search(r"[a-zA-Z]", _commandless(match["value"])):
        return text, None
    unit = (match["wrapped"] or match["plain"]).strip()
    if unit.lower() in MATH_WORDS | {"to", "base", "is"} | set(BASE_WORDS):
        return text, None
    power = re.sub(r"[\s{}]", "", match["power"] or "")
    return match["value"].strip(), unit.lower() + power


def _commandless(text: str) -> str:
    return re.sub(r"\\[a-zA-Z]+", " ", text)


def _repeating_decimals(text: str) -> str:
    """`4.\\overline{6}` -> `\\frac{42}{9}`: a repeating decimal as the exact fraction it names."""

    def to_fraction(match: re.Match) -> str:
        whole, fixed, repeat = match["whole"] or "0", match["fixed"], match["repeat"]
        denominator = (10 ** len(repeat) - 1) * 10 ** len(fixed)
        numerator = int(whole + fixed + repeat) - int(whole + fixed or "0")
        return f"\\frac{{{numerator}}}{{{denominator}}}"

    pattern = r"(?P<whole>\d*)\.(?P<fixed>\d*)\\overline\{(?P<repeat>\d+)\}"
    return re.sub(pattern, to_fraction, text)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def split_top_level(text: str, separators: str = r",|;|\s+and\s+|\s+or\s+") -> list[str]:
    """Split on separators that sit outside every bracket: `(1,2), (3,4)` -> [`(1,2)`, `(3,4)`]."""
    parts, last = [], 0
    for match in re.finditer(separators, text):
        if match.start() >= last and bracket_depth(text[last : match.start()]) == 0 and _braces_closed(
            text[last : match.start()]
        ):
            parts.append(text[last : match.start()].strip())
            last = match.end()
    parts.append(text[last:].strip())
    return parts


def _braces_closed(text: str) -> bool:
    return text.count("{") == text.count("}")


def enclosing_brackets(text: str) -> tuple[str, str, str] | None:
    """(`(`, inner, `]`) when one bracket pair encloses the whole text: `(3,4]`, `\\{2,3\\}`, `(8,23)`."""
    if text.startswith("\\{") and text.endswith("\\}"):
        inner = text[2:-2]
        return ("\\{", inner, "\\}") if bracket_depth(inner) == 0 and _braces_closed(inner) else None
    if len(text) < 2 or text[0] not in "([" or text[-1] not in ")]":
        return None
    inner = text[1:-1]
    prefixes = (inner[:i] for i in range(len(inner) + 1))
    if any(bracket_depth(prefix) < 0 for prefix in prefixes) or bracket_depth(inner) != 0:
        return None
    return text[0], inner, text[-1]


def strip_assignment(text: str) -> str:
    """`x = 3` -> `3`, `(x, y) = (8, 23)` -> `(8, 23)`; equations such as `2x + y = 1` stay."""
    match = re.fullmatch(r"\s*[(\[]?\s*[a-zA-Z](?:_\{?\w+\}?)?(?:\s*,\s*[a-zA-Z](?:_\{?\w+\}?)?)*\s*[)\]]?"
                         r"\s*=\s*(?P<rhs>[^=<>]+)", text)
    return match["rhs"].strip() if match else text


def expand_plus_minus(text: str) -> list[str]:
    """`1 \\pm \\sqrt{19}` -> [`1 + \\sqrt{19}`, `1 - \\sqrt{19}`]; anything else -> [text]."""
    parts = re.split(r"\\(?:pm|mp)(?![a-zA-Z])", text)
    if len(parts) != 2:
        return [text]
    head, tail = parts[0].rstrip(), parts[1].lstrip()
    return [f"{head} + {tail}" if head else f"+{tail}", f"{head} - {tail}" if head else f"-{tail}"]


def ratio_parts(text: str) -> list[str] | None:
    """[`15`, `13`, `12`] for `15:13:12`; None when the text is not a ratio."""
    if ":=" in text or ":" not in text:
        return None
    parts = split_top_level(text, separators=r":")
    return parts if len(parts) >= 2 and all(parts) else None


def base_number(text: str) -> tuple[str, int] | None:
    """(`2114`, 5) for `2114_5`, `2114_{5}`, `2114five`, `2114 base 5`, `2114_{\\text{five}}`."""
    words = "|".join(BASE_WORDS)
    match = re.fullmatch(
        rf"(?P<digits>[0-9A-Fa-f]+)\s*(?:_\s*\{{?\s*(?:\\text\{{)?\s*(?P<base>\d+|{words})\s*\}}?\s*\}}?"
        rf"|\(?\s*base\s*(?P<base2>\d+|{words})\s*\)?|(?P<base3>{words}))",
        text.strip(),
        flags=re.IGNORECASE,
    )
    if not match:
        return None
    base = (match["base"] or match["base2"] or match["base3"]).lower()
    value = int(base) if base.isdigit() else BASE_WORDS[base]
    return match["digits"].upper(), value


def word_answer(text: str) -> str | None:
    """The canonical wording when the answer is prose or a choice letter (`Thursday`, `(C)`), else None."""
    plain = re.sub(r"\\(?:text|textbf|textit|textrm|mathrm|mbox|mathbf)\{([^{}]*)\}", r"\1", text)
    letter = re.fullmatch(r"\(?\s*([A-Z])\s*\)?", plain.strip())
    if letter:
        return letter.group(1).lower()
    without_commands = re.sub(r"\\(?:begin|end|operatorname)\{\w*\*?\}|\\[a-zA-Z]+", " ", plain)
    words = re.findall(r"[A-Za-z]{3,}", without_commands)
    if not any(word.lower() not in MATH_WORDS for word in words):
        return None
    return canonical_words(plain)


def canonical_words(text: str) -> str:
    text = re.sub(r"[*\"'`$]", "", text.lower())
    text = re.sub(r"^(?:the|an|a)\s+", "", _squash(text))
    return text.strip(" .,;:!")


def answer_shape(text: str) -> tuple[str, list[str], str]:
    """(kind, items, brackets): kind is `tuple` (ordered), `set`, `list` (unordered) or `single`."""
    brackets = enclosing_brackets(text)
    if text == "\\emptyset" or (brackets and brackets[0] == "\\{"):
        inner = brackets[1].strip() if brackets else ""
        return "set", expand_items(split_top_level(inner, ",|;") if inner else []), "{}"
    if brackets and len(items := split_top_level(brackets[1], ",")) >= 2:
        return "tuple", items, brackets[0] + brackets[2]
    if len(items := expand_items(split_top_level(text))) >= 2:
        return "list", items, ""
    return "single", [text], ""


def expand_items(items: list[str]) -> list[str]:
    """Drop `x =` from each item and split `a \\pm b` into two."""
    return [variant for item in items for variant in expand_plus_minus(strip_assignment(item))]


def choice_letters(text: str) -> list[str] | None:
    """[`B`, `D`] for `B and D`, `(B), (D)`, `\\text{(B)}`; None when the text is not only choice letters."""
    plain = re.sub(r"\\(?:text|textbf|mathrm)\{([^{}]*)\}", r"\1", text)
    letter = r"\(?\s*[A-Za-z]\s*\)?"
    if not re.fullmatch(rf"\s*{letter}(?:(?:\s*[,&;]\s*|\s+and\s+|\s+){letter})*\s*", plain):
        return None
    return [found.upper() for found in re.findall(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])", plain)]


def same_vocabulary(first: str, second: str) -> bool:
    return any(first in vocabulary and second in vocabulary for vocabulary in VOCABULARIES)


def is_numeral(text: str) -> bool:
    """Digits of a numeral in some base, starting with a digit: `2114`, `1A3`."""
    return re.fullmatch(r"\d[0-9A-Za-z]*", text) is not None


def decimal_places(text: str | None) -> int | None:
    """2 for `13.10`, 7 for `.0000672`; None for anything but a plain decimal literal."""
    match = re.fullmatch(r"[-+]?\d*\.(\d+)", text.strip()) if text else None
    return len(match.group(1)) if match else None
