"""A number said with its word (`12th grade`, `5 apples`, `3 hours`), and which words a question asks for
(`What grade ...`, `How many hours ...`). Only reads; `agents.equivalence` decides what is equal."""

from __future__ import annotations

import re
from dataclasses import dataclass

ORDINAL = re.compile(r"(?P<number>\d+)\s*(?:st|nd|rd|th)\s+(?P<words>[A-Za-z]+(?:\s+[A-Za-z]+)?)")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?|-?\\frac\{\d+\}\{\d+\}")
ASKING = re.compile(r"\b(?P<how>which|what|how\s+many)\s+(?P<first>[a-z]+)(?:\s+(?P<second>[a-z]+))?")
NOT_NOUNS = frozenset({"is", "was", "are", "were", "do", "does", "did", "the", "a", "an", "of", "will", "would",
                       "can", "could", "should", "must", "has", "have", "had", "if", "in", "to", "be"})
ABBREVIATIONS = {"cm": "centimeter", "mm": "millimeter", "km": "kilometer", "kg": "kilogram", "ft": "foot",
                 "in": "inch", "hr": "hour", "hrs": "hour", "min": "minute", "mins": "minute", "sec": "second",
                 "secs": "second", "lb": "pound", "lbs": "pound", "oz": "ounce", "yd": "yard", "mi": "mile"}
IRREGULAR = {"feet": "foot", "people": "person", "children": "child", "men": "man", "women": "woman"}


@dataclass(frozen=True)
class Counted:
    """`12th grade` -> ("12", {"grade"}, ordinal); `5 apples` -> ("5", {"apple"}, not ordinal)."""

    number: str
    words: frozenset[str]
    ordinal: bool


def counted(text: str, unit: str | None) -> Counted | None:
    """The number and its word(s), for a normalised answer (its text, and the unit word peeled off it)."""
    if match := ORDINAL.fullmatch(text.strip()):
        return Counted(match["number"], _nouns(match["words"]), True)
    if unit and NUMBER.fullmatch(text.strip()):
        return Counted(text.strip(), _nouns(unit), False)
    return None


def asked_words(question: str) -> tuple[frozenset[str], frozenset[str]]:
    """(words the question asks for after which / what / how many, words it counts after how many):
    "How many square feet ..." -> ({square, foot}, {square, foot}); "What grade ..." -> ({grade}, {})."""
    asked, counts = set(), set()
    for match in ASKING.finditer(question.lower()):
        if match["first"] in NOT_NOUNS:
            continue
        nouns = {_singular(word) for word in (match["first"], match["second"]) if word and word not in NOT_NOUNS}
        asked |= nouns
        if match["how"] not in ("which", "what"):
            counts |= nouns
    return frozenset(asked), frozenset(counts)


def _nouns(words: str) -> frozenset[str]:
    return frozenset(_singular(word) for word in re.findall(r"[a-z]+", words.lower()))


def _singular(word: str) -> str:
    word = ABBREVIATIONS.get(word, word)
    if word in IRREGULAR:
        return IRREGULAR[word]
    for plural, single in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("sses", "ss")):
        if word.endswith(plural):
            return word[: -len(plural)] + single
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word
