"""CLI sub-commands, grouped by the package they drive."""
