"""A rich progress display for runs: done, accepted, abstained, failed, tokens, ETA."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from distill.output import console


@contextlib.contextmanager
def run_progress(title: str) -> Iterator[Callable[[object], None]]:
    """Yields `update(tally)` for any object with total, done, accepted, abstained, failed and tokens."""
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[green]{task.fields[accepted]} accepted[/] [yellow]{task.fields[abstained]} abstained[/] "
                   "[red]{task.fields[failed]} failed[/] {task.fields[tokens]:,} tokens"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(title, total=None, accepted=0, abstained=0, failed=0, tokens=0)

        def update(tally: object) -> None:
            progress.update(task, total=tally.total, completed=tally.done, accepted=tally.accepted,
                            abstained=tally.abstained, failed=tally.failed, tokens=tally.tokens)

        yield update
