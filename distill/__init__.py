"""distill: the command-line shell that composes store, agents, graphs, training and evaluation."""
