"""`distill graph corpus|levels`: a stage's graph as the code builds it, as edges or as a Mermaid diagram."""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import Annotated

import typer


class GraphName(StrEnum):
    corpus = "corpus"
    levels = "levels"


MODULES = {GraphName.corpus: "distill.graphs.corpus", GraphName.levels: "distill.graphs.levels"}


def graph_text(name: GraphName, mermaid: bool) -> str:
    """The module-level graph, compiled without a store or clients, drawn."""
    drawing = importlib.import_module(MODULES[name]).graph.get_graph()
    if mermaid:
        return drawing.draw_mermaid().rstrip()
    return "\n".join(f"{edge.source} {'-.->' if edge.conditional else '-->'} {edge.target}"
                     for edge in drawing.edges)


def graph_command(
    name: Annotated[GraphName, typer.Argument(help="Which graph.", case_sensitive=False)],
    mermaid: Annotated[bool, typer.Option("--mermaid", help="A Mermaid flowchart (for a ```mermaid block) "
                                          "instead of one edge per line.")] = False,
) -> None:
    """Print a stage's graph from the code: its edges (-.-> conditional), or a Mermaid diagram."""
    typer.echo(graph_text(name, mermaid))


def register(app: typer.Typer) -> None:
    app.command("graph")(graph_command)
