"""Reading a two-way verdict from an LLM reply (the critic's ACCEPT/REJECT, the judge's CORRECT/INCORRECT):
a `VERDICT: ...` line, a JSON object `{"verdict": ..., "reason": ...}`, or a reply that starts with the word.
Conflicting or missing verdicts give None: the caller records the reply as unparseable, never a guess."""

from __future__ import annotations

import json
import re

_REASON_LINE = re.compile(r"^[\s>*#_`-]*reason[\s*_`]*[:=\-–]\s*[*_`]*\s*(.+)", re.I | re.M | re.S)
_JSON = re.compile(r"\{.*\}", re.S)
CONFLICT, MISSING = "conflicting verdicts", "no verdict"


def tail(text: str, max_chars: int) -> str:
    """The end of a long text (where a conclusion is), saying how much was left out."""
    if len(text) <= max_chars:
        return text
    cut = len(text) - max_chars
    return f"[... first {cut} characters omitted ...]\n{text[cut:]}"


class VerdictReader:
    """Verdict words (and their variants) mapped to what they mean, e.g. {"wrong": "incorrect"}."""

    def __init__(self, meanings: dict[str, str], suffixes: str = "") -> None:
        self.meanings = meanings
        words = "|".join(sorted(meanings, key=len, reverse=True))
        word = rf"({words})(?:{suffixes})?\b" if suffixes else rf"({words})\b"
        self._line = re.compile(rf"^[\s>*#_`-]*verdict[\s*_`]*[:=\-–]\s*[*_`\"']*\s*{word}", re.I | re.M)
        self._first = re.compile(rf"^[\s>*#_`\"']*{word}", re.I)

    def read(self, text: str) -> tuple[str | None, str]:
        """(meaning, reason), or (None, CONFLICT | MISSING) when the reply has several verdicts or none."""
        verdicts = {self.meanings[m.lower()] for m in self._line.findall(text)}
        if not verdicts:
            data = _json_object(text)
            value = str(data.get("verdict", "")).strip().lower() if data else ""
            verdicts = {self.meanings[value]} if value in self.meanings else set()
        if not verdicts:
            first = self._first.match(text)
            verdicts = {self.meanings[first[1].lower()]} if first else set()
        if len(verdicts) != 1:
            return None, (CONFLICT if verdicts else MISSING)
        return verdicts.pop(), self._reason(text)

    def _reason(self, text: str) -> str:
        match = _REASON_LINE.search(text)
        if match:
            return match[1].strip().strip("*_`").strip()[:1000]
        data = _json_object(text)
        if data and data.get("reason"):
            return str(data["reason"])[:1000]
        rest = self._first.sub("", self._line.sub("", text), count=1)  # the reply without its verdict word
        return rest.strip().lstrip(".:-*– ").strip()[:1000] or text.strip()[:1000]


def _json_object(text: str) -> dict | None:
    match = _JSON.search(text)
    if not match:
        return None
    try:
        data = json.loads(match[0])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
