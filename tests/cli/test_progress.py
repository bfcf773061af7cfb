"""The progress display shows whatever outcomes a stage counts (the corpus and the levels stages differ)."""

from __future__ import annotations

import pytest
from distill.graphs.levels import LevelsStage
from distill.graphs.runner import Tally

from distill.progress import outcome_counts, run_progress


@pytest.mark.parametrize("outcomes", [("accepted", "abstained", "failed"), LevelsStage.outcomes])
def test_progress_shows_each_outcome_of_the_stage(outcomes, capsys):
    tally = Tally(outcomes=outcomes, total=5, tokens=1234)
    tally.counts.update({outcomes[0]: 2, outcomes[-1]: 1})
    with run_progress("stage") as update:
        update(tally)
    shown = capsys.readouterr().out
    assert "3/5" in shown and "1,234 tokens" in shown
    assert f"2 {outcomes[0]}" in shown and f"0 {outcomes[1]}" in shown and f"1 {outcomes[-1]}" in shown
    assert outcome_counts(tally).count("[/]") == len(outcomes)
