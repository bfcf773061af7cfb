"""The progress display shows whatever outcomes a stage counts (the corpus and the levels stages differ); to a file
or a pipe it is plain lines, now and then."""

from __future__ import annotations

import pytest
from distill.graphs.levels import LevelsStage
from distill.graphs.runner import Tally

import distill.progress as progress
from distill.progress import ProgressLines, outcome_counts, run_progress


@pytest.mark.parametrize("redraws", [True, False], ids=["bar", "lines"])
@pytest.mark.parametrize("outcomes", [("accepted", "abstained", "failed"), LevelsStage.outcomes])
def test_progress_shows_each_outcome_of_the_stage(outcomes, redraws, capsys, monkeypatch):
    monkeypatch.setattr(progress, "redraws", lambda: redraws)
    tally = Tally(outcomes=outcomes, total=5, tokens=1234)
    tally.counts.update({outcomes[0]: 2, outcomes[-1]: 1})
    with run_progress("stage") as update:
        update(tally)
    shown = capsys.readouterr().out
    assert "3/5" in shown and "1,234 tokens" in shown
    assert f"2 {outcomes[0]}" in shown and f"0 {outcomes[1]}" in shown and f"1 {outcomes[-1]}" in shown
    assert outcome_counts(tally).count("[/]") == len(outcomes)
    assert "\x1b[" not in shown


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_at_the_start_each_tenth_every_30_s_and_the_end():
    clock, written = Clock(), []
    lines = ProgressLines("corpus demo", written.append, clock=clock)
    tally = Tally(total=120)
    lines.update(tally)  # the total is known: a first line
    for n in range(1, 49):  # 40 done in 20 s, then 8 more in a minute (a slow stretch)
        clock.now = n * 0.5 if n <= 40 else 20 + (n - 40) * 7.5
        tally.counts["accepted" if n % 4 else "abstained"] += 1
        tally.tokens += 300
        lines.update(tally)
    lines.close()  # stopped at 48/120 (Ctrl-C): the last state, once
    assert written[0] == "corpus demo: 0/120 done, 0 accepted 0 abstained 0 failed, 0 tokens"
    assert written[3] == "corpus demo: 36/120 done, 27 accepted 9 abstained 0 failed, 10,800 tokens, 2.0/s, ETA 42 s"
    assert [w.split(":")[1].split(",")[0] for w in written] == [
        " 0/120 done", " 12/120 done", " 24/120 done", " 36/120 done", " 44/120 done", " 48/120 done"]
    assert written[4].endswith("52.8/min, ETA 86 s")  # 44 done at 50 s: 30 s after the last line, by time
    assert written[5] == ("corpus demo: 48/120 done, 36 accepted 12 abstained 0 failed, 14,400 tokens, 36.0/min, "
                          "ETA 2 min")


def test_the_last_line_says_how_long_it_took_and_is_not_repeated():
    clock, written = Clock(), []
    lines = ProgressLines("levels demo", written.append, clock=clock)
    tally = Tally(outcomes=LevelsStage.outcomes, total=2)
    for n in (1, 2):
        clock.now = 100.0 * n
        tally.counts[LevelsStage.outcomes[0]] += 1
        lines.update(tally)
    lines.close()
    assert written == ["levels demo: 1/2 done, 1 complete 0 partial 0 failed, 0 tokens, 0.6/min, ETA 2 min",
                       "levels demo: 2/2 done, 2 complete 0 partial 0 failed, 0 tokens, 0.6/min, in 3 min"]
