"""Run progress: done of total, the count of each outcome, tokens, rate and ETA. At a terminal a rich bar that
redraws in place; to a file or a pipe (a log, CI) a plain line now and then, never an ANSI code."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from distill.output import console

STYLES = {"accepted": "green", "complete": "green", "abstained": "yellow", "partial": "yellow", "failed": "red"}


def outcome_counts(tally: object, styled: bool = True) -> str:
    """'19 accepted 11 abstained 0 failed', for whatever outcomes the stage's tally counts (with rich markup unless
    `styled` is False)."""
    parts = []
    for outcome in getattr(tally, "outcomes", ()):
        text = f"{tally.counts[outcome]} {outcome}"
        parts.append(f"[{STYLES.get(outcome, 'bold')}]{text}[/]" if styled else text)
    return " ".join(parts)


def duration(seconds: float) -> str:
    """'38 s', '12 min', '2.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


class ProgressLines:
    """Progress as plain lines, for a log: one when the total is known, one at each tenth of the work, one at least
    every `every_s` seconds while items finish, and the last state at the end:
    'corpus demo: 40/120 done, 30 accepted 10 abstained 0 failed, 12,345 tokens, 2.1/s, ETA 38 s'."""

    def __init__(self, title: str, write: Callable[[str], None], every_s: float = 30.0, steps: int = 10,
                 clock: Callable[[], float] = time.monotonic):
        self.title, self.write, self.every_s, self.steps, self.clock = title, write, every_s, steps, clock
        self.started = self.last_at = clock()
        self.step = -1
        self.shown: tuple[int, int] | None = None  # (done, total) of the last line written
        self.tally: object | None = None

    def update(self, tally: object) -> None:
        self.tally = tally
        now = self.clock()
        step = tally.done * self.steps // tally.total if tally.total else self.steps
        due = now - self.last_at >= self.every_s and (tally.done, tally.total) != self.shown
        if step > self.step or due:
            self.step = max(step, self.step)
            self._write(now)

    def close(self) -> None:
        if self.tally is not None and (self.tally.done, self.tally.total) != self.shown:
            self._write(self.clock())

    def line(self, tally: object, elapsed: float) -> str:
        parts = [f"{self.title}: {tally.done}/{tally.total} done", outcome_counts(tally, styled=False),
                 f"{tally.tokens:,} tokens"]
        rate = tally.done / elapsed if tally.done and elapsed > 0 else 0.0
        if rate:
            parts.append(f"{rate:.1f}/s" if rate >= 1 else f"{60 * rate:.1f}/min")
        if tally.done >= tally.total:
            parts.append(f"in {duration(elapsed)}")
        elif rate:
            parts.append(f"ETA {duration((tally.total - tally.done) / rate)}")
        return ", ".join(parts)

    def _write(self, now: float) -> None:
        self.write(self.line(self.tally, now - self.started))
        self.shown, self.last_at = (self.tally.done, self.tally.total), now


def redraws() -> bool:
    """Whether the output redraws in place: a terminal, not a dumb one (rich's test, made when asked: the
    console is made at import, and a command's stdout may be another by then)."""
    return console.is_terminal and not console.is_dumb_terminal


@contextlib.contextmanager
def run_progress(title: str) -> Iterator[Callable[[object], None]]:
    """Yields `update(tally)` for a runner's Tally (total, done, outcomes and their counts, tokens)."""
    if not redraws():
        lines = ProgressLines(title, lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
        try:
            yield lines.update
        finally:
            lines.close()
        return
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
