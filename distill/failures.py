"""The end-of-stage summary of what failed: failed calls and failed items, counted by reason, the first few,
and how to retry them. Endpoint faults are never printed as tracebacks."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from distill.graphs.runner import Tally

FIRST_SHOWN = 5


def by_reason(counts: Counter) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def print_failures(tally: Tally, out: Console, item: str = "problem") -> None:
    """Failed calls (stored in call_errors) and failed items, by reason; nothing when there were none."""
    if tally.faults:
        calls = sum(tally.faults.values())
        out.print(f"[yellow]{calls} call(s) failed after their retries[/yellow] ({by_reason(tally.faults)}); "
                  "each is in table call_errors, and a failed reply counts as a failed attempt", highlight=False)
    failed = len(tally.errors)
    if not failed:
        return
    out.print(f"[red]{failed} {item}(s) failed[/red] ({by_reason(tally.failure_reasons)}):", highlight=False)
    for line in tally.errors[:FIRST_SHOWN]:
        out.print(f"  {line}", highlight=False, markup=False)
    if failed > FIRST_SHOWN:
        out.print(f"  ... and {failed - FIRST_SHOWN} more", highlight=False)
    out.print("rerun the same command to retry them", highlight=False)
