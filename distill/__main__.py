"""`python -m distill`: the `distill` command (what `distill train --processes` runs on every rank)."""

from distill.cli import main

main()
