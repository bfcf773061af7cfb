"""A rich progress display for runs: done of total, the count of each outcome, tokens, ETA."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from distill.output import console

STYLES = {"accepted": "green", "complete": "green", "abstained": "yellow", "partial": "yellow", "failed": "red"}


def outcome_counts(tally: object) -> str:
    """'19 accepted 11 abstained 0 failed', for whatever outcomes the stage's tally counts."""
    parts = []
    for outcome in getattr(tally, "outcomes", ()):
        style = STYLES.get(outcome, "bold")
        parts.append(f"[{style}]{tally.counts[outcome]} {outcome}[/]")
    return " ".join(parts)


@contextlib.contextmanager
def run_progress(title: str) -> Iterator[Callable[[object], None]]:
    """Yields `update(tally)` for a runner's Tally (total, done, outcomes and their counts, tokens)."""
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[counts]} {task.fields[tokens]:,} tokens"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(title, total=None, counts="", tokens=0)

        def update(tally: object) -> None:
            progress.update(task, total=tally.total, completed=tally.done, counts=outcome_counts(tally),
                            tokens=tally.tokens)

        yield update
