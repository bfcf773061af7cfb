"""Contamination check: word n-gram overlap between training questions and held-out questions.

Questions are normalised (NFKC, case-folded, every run of characters that are neither letters nor digits
becomes a space) and split into words. Two questions overlap when they share a 13-gram. A question shorter
than 13 words is one gram (all its words): it leaks when it appears word for word inside the other question,
provided it has at least `MIN_SHORT_WORDS` words (shorter ones, such as "find x", would match everything);
shorter still, only an identical question counts.

Numbers decide between a leak and a shared template: two overlapping questions whose numbers conflict (neither
question's numbers, counted with repeats, are among the other's) are different problems written from one template,
as a generated family's are ("... 3 shirts, 4 pairs of pants ..." and "... 2 shirts, 5 pairs of pants ..."), and
are not a leak. A copy, a rephrasing, or a held-out question embedded in a longer one keeps its numbers and is.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NGRAM = 13
MIN_SHORT_WORDS = 8
NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Leak:
    problem_id: str  # the training (train or valid) problem
    other_id: str  # the held-out problem it overlaps
    against: str  # 'test' | 'math500'
    shared_ngrams: int
    example: str  # one shared n-gram, as words


def question_words(text: str | None) -> tuple[str, ...]:
    """The normalised words of a question."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return tuple(NON_WORD.sub(" ", folded).split())


def ngrams(words: tuple[str, ...], n: int = NGRAM) -> set[tuple[str, ...]]:
    """All n-grams of `words`; a text shorter than n is a single gram of all its words."""
    if len(words) < n:
        return {words} if words else set()
    return {words[i:i + n] for i in range(len(words) - n + 1)}


def find_leaks(training: Mapping[str, str | None], held_out: Mapping[str, str | None], against: str,
               n: int = NGRAM, min_short_words: int = MIN_SHORT_WORDS) -> list[Leak]:
    """Every (training, held-out) pair of different problems whose questions overlap, as described above."""
    held_words = {pid: question_words(text) for pid, text in held_out.items()}
    train_words = {pid: question_words(text) for pid, text in training.items()}
    shared: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)

    def index(texts: Mapping[str, tuple[str, ...]], size: int) -> dict[tuple[str, ...], list[str]]:
        grams: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for pid, words in texts.items():
            for gram in ngrams(words, size) if len(words) >= size else ():
                grams[gram].append(pid)
        return grams

    # Full n-grams on both sides.
    held_index = index(held_words, n)
    for pid, words in train_words.items():
        for gram in ngrams(words, n) if len(words) >= n else ():
            for other in held_index.get(gram, ()):
                shared[pid, other].add(gram)
    # Short questions (fewer than n words) on either side, found inside the other side's questions.
    _short_inside(train_words, held_words, min_short_words, shared, index, short_is_training=True)
    _short_inside(held_words, train_words, min_short_words, shared, index, short_is_training=False)
    leaks = [Leak(pid, other, against, len(grams), " ".join(min(grams))) for (pid, other), grams in shared.items()
             if pid != other and not numbers_conflict(train_words[pid], held_words[other])]
    return sorted(leaks, key=lambda leak: (leak.problem_id, leak.other_id))


def numbers_conflict(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Neither question's numbers (words with a digit, with repeats) are contained in the other's."""
    first, second = (Counter(w for w in words if any(c.isdigit() for c in w)) for words in (a, b))
    return not (first <= second or second <= first)


def _short_inside(short_side: Mapping[str, tuple[str, ...]], long_side: Mapping[str, tuple[str, ...]],
                  min_short_words: int, shared: dict, index, *, short_is_training: bool) -> None:
    by_length: dict[int, list[str]] = defaultdict(list)
    for pid, words in short_side.items():
        if 0 < len(words) < NGRAM:
            by_length[len(words)].append(pid)
    for length, pids in by_length.items():
        if length >= min_short_words:
            grams = index(long_side, length)
        else:  # too short to mean anything inside a longer text: only an identical question counts
            grams = defaultdict(list)
            for pid, words in long_side.items():
                if len(words) == length:
                    grams[words].append(pid)
        for pid in pids:
            for other in grams.get(short_side[pid], ()):
                key = (pid, other) if short_is_training else (other, pid)
                shared[key].add(short_side[pid])


def leak_summary(leaks: Iterable[Leak], limit: int = 5) -> str:
    """A short human-readable account of leaks, for refusals and reports."""
    leaks = list(leaks)
    counts: dict[str, int] = defaultdict(int)
    for leak in leaks:
        counts[leak.against] += 1
    head = ", ".join(f"{count} with {against}" for against, count in sorted(counts.items()))
    lines = [f"{len(leaks)} overlapping pair(s) ({head})"]
    lines += [f"  {leak.problem_id} ~ {leak.other_id} ({leak.against}, {leak.shared_ngrams} shared: "
              f"'{leak.example[:80]}')" for leak in leaks[:limit]]
    if len(leaks) > limit:
        lines.append(f"  ... and {len(leaks) - limit} more (table `contamination`)")
    return "\n".join(lines)
