"""Every command's --help shows its help as written (rich markup would eat `[corpus]` and `[[inputs]]`), and
`distill --help` opens with what distill is for."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from distill.cli import app

BRACKETED = re.compile(r"\[[^\]\s]+\]+")  # [corpus], [[inputs]], [:RUN[/LEVEL]]


def command_paths(command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


def written_help(command) -> str:
    """The help texts of a command and its parameters as written in the code (the tree holds them escaped)."""
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    return "\n".join(texts).replace("\\[", "[")


COMMANDS = list(command_paths(typer.main.get_command(app)))


def show_help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="distill", env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "distill" for p, _ in COMMANDS])
def test_help_shows_the_bracketed_names_it_was_written_with(path, command):
    shown = show_help(*path)
    for name in BRACKETED.findall(written_help(command)):
        assert name in shown, f"`distill {' '.join(path)} --help` lost {name}"
    assert "\\[" not in shown  # the escape itself never shows


def test_build_help_names_its_table():
    assert "[corpus]" in show_help("build")
    assert "[[inputs]]" in show_help("ingest")
    assert "[split]" in show_help("export") and "[train]" in show_help("train") and "[eval]" in show_help("eval")


def test_distill_help_opens_with_a_sentence_for_users():
    shown = show_help()
    opening = " ".join(shown.split("Usage: distill [OPTIONS] COMMAND [ARGS]...")[1].split())
    assert opening.startswith("Distil chain-of-thought reasoning from a large teacher model into a compact student")
    assert "distill study --config examples/demo.toml" in opening and "holds no logic" not in shown
