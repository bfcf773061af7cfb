"""Printing tables as rich tables, CSV or JSON. Written to a file or a pipe, nothing carries ANSI codes (rich colours
a terminal only); NO_COLOR turns styling off at a terminal too."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from distill.store.queries import plain

# Piped output is not wrapped at 80 columns: tables stay one row per line in files and pagers.
# NO_COLOR (https://no-color.org): no styles at all, not only no colours (rich alone would keep bold).
_COLOR_SYSTEM = None if os.environ.get("NO_COLOR") else "auto"
console = Console(width=None if sys.stdout.isatty() else 200, color_system=_COLOR_SYSTEM)
errors = Console(stderr=True, color_system=_COLOR_SYSTEM)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def print_table(columns: list[str], rows: list[tuple[Any, ...]], fmt: OutputFormat = OutputFormat.table,
                title: str | None = None) -> None:
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")  # not the csv module's \r\n
        writer.writerow(columns)
        writer.writerows([[plain(v) for v in row] for row in rows])
    elif fmt is OutputFormat.json:
        print(json.dumps([{c: plain(v) for c, v in zip(columns, row, strict=True)} for row in rows],
                         ensure_ascii=False, indent=2, default=str))
    else:
        table = RichTable(title=title)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else str(plain(v)) for v in row))
        console.print(table)


def held_by_service(exc: BaseException) -> str:
    """For a locked store that a `distill serve` holds: how to go through it instead."""
    from distill.service.address import read_address
    from distill.store import StoreLocked

    holder = read_address(exc.path) if isinstance(exc, StoreLocked) else None
    if holder is None:
        return ""
    return (f"\na distill service ({holder.url}, pid {holder.pid}) holds this store: submit the work to it "
            f"(`distill jobs submit --config FILE --db {exc.path}`), read it with `distill sql`, or watch it at "
            f"{holder.url}/")


@contextmanager
def command_errors(action: str, expected: tuple[type[BaseException], ...], interrupted: str,
                   codes: dict[type[BaseException], int] | None = None) -> Iterator[None]:
    """A command's expected errors as one red line (exit 2, or the code given for that kind), Ctrl-C as the
    `interrupted` line (exit 130): never a traceback for what the user can fix."""
    try:
        yield
    except KeyboardInterrupt:
        errors.print(f"interrupted: {interrupted}", highlight=False)
        raise typer.Exit(130) from None
    except expected as exc:
        errors.print(f"[red]{action} failed:[/red] {escape(str(exc))}{escape(held_by_service(exc))}", highlight=False)
        code = next((c for kind, c in (codes or {}).items() if isinstance(exc, kind)), 2)
        raise typer.Exit(code) from exc
