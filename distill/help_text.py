"""Help texts shown as written. typer renders help with rich markup, which takes a bracketed word for a style tag
and drops it (`[corpus]` vanished from "a file with a [corpus] table", `[[inputs]]` became `[]`). The root command
escapes every help text of its tree once, so every command shows its brackets, those registered later too."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from typer.core import TyperGroup


def escape_help(command: Any) -> None:
    """Escape the help of `command`, of its parameters and of its sub-commands, recursively."""
    for item in (command, *getattr(command, "params", ())):
        for attribute in ("help", "short_help"):
            if getattr(item, attribute, None):
                setattr(item, attribute, escape(getattr(item, attribute)))
    for sub in getattr(command, "commands", {}).values():
        escape_help(sub)


class LiteralHelpGroup(TyperGroup):
    """The root group (`typer.Typer(cls=LiteralHelpGroup)`): built with its whole tree at each invocation."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        escape_help(self)
