"""The `distill` command: one sub-command per verb; each composes the packages and holds no logic."""

from __future__ import annotations

import typer

import distill.commands.evaluation_commands as evaluation_commands
from distill.commands import (
    corpus_commands,
    graph_commands,
    levels_commands,
    model_commands,
    service_commands,
    store_commands,
    student_commands,
    study_commands,
    training_commands,
)
from distill.help_text import LiteralHelpGroup

HELP = ("Distil chain-of-thought reasoning from a large teacher model into a compact student: problems go in; a "
        "corpus checked by a solver/critic loop, LoRA-trained students and honestly graded results come out. Every "
        "step resumes where it stopped, and everything is stored in one DuckDB file that `distill sql` queries.\n\n"
        "Start with `distill study --config examples/demo.toml`: the whole study (ingest, corpus, levels, split, "
        "train, eval, report) with offline default models. Each stage is also a command below; "
        "`distill COMMAND --help` shows its options.")

# Never show local variables in tracebacks: they may hold API keys.
# Help as written: LiteralHelpGroup keeps every command's [brackets] from being read as rich markup.
app = typer.Typer(no_args_is_help=True, add_completion=False, help=HELP, cls=LiteralHelpGroup,
                  pretty_exceptions_show_locals=False)
store_commands.register(app)
corpus_commands.register(app)
levels_commands.register(app)
model_commands.register(app)
training_commands.register(app)
student_commands.register(app)
study_commands.register(app)
evaluation_commands.register(app)
graph_commands.register(app)
service_commands.register(app)


def main() -> None:
    app()
