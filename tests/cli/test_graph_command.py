"""`distill graph`: the graph drawn from the code, and the README's copy of it kept current."""

import re

from distill.commands.graph_commands import GraphName, graph_text
from tests.support.paths import REPO


def test_graph_prints_edges_and_mermaid(cli):
    edges = cli("graph", "corpus")
    assert edges.exit_code == 0, edges.output
    assert "critique --> decide" in edges.output.splitlines() and "decide -.-> solve" in edges.output.splitlines()
    drawn = cli("graph", "levels", "--mermaid")
    assert drawn.exit_code == 0 and "graph TD;" in drawn.output and "decide -.-> compress;" in drawn.output
    assert cli("graph", "nope").exit_code == 2


def test_the_readme_shows_the_corpus_graph_as_the_code_draws_it():
    blocks = re.findall(r"```mermaid\n(.*?)\n```", (REPO / "README.md").read_text(), re.S)
    assert graph_text(GraphName.corpus, mermaid=True) in blocks, "regenerate: distill graph corpus --mermaid"
