"""Read a matrix or vector answer as rows of entries: LaTeX `pmatrix`/`bmatrix`, or written out as nested brackets
(`[[1,2],[3,4]]`, `((1,2),(3,4))`) or rows separated by `;` (`[1, 2; 3, 4]`, `1,2;3,4`). Only reads;
`agents.equivalence` decides what is equal."""

from __future__ import annotations

import re

from distill.agents.normalise import enclosing_brackets, split_top_level

LATEX_MATRIX = re.compile(r"\s*\\begin\{([pb])matrix\}(?P<body>.*)\\end\{\1matrix\}\s*", re.DOTALL)

Rows = list[list[str]]


def latex_matrix(text: str) -> Rows | None:
    """Rows of a whole-answer `\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}` (or bmatrix); None when the text
    is not one, or its rows differ in length."""
    match = LATEX_MATRIX.fullmatch(text)
    if not match:
        return None
    rows = [[entry.strip() for entry in row.split("&")] for row in re.split(r"\\\\", match["body"]) if row.strip()]
    return rows if _rectangular(rows) else None


def written_matrix(text: str) -> Rows | None:
    """Rows of a matrix written out: `[[1,2],[3,4]]`, `((1,2),(3,4))`, `[1, 2; 3, 4]`, `1,2;3,4` (at least two rows
    of at least two entries each, all the same length); None otherwise (a flat tuple is no matrix)."""
    text = text.strip()
    outer = enclosing_brackets(text)
    inner = outer[1] if outer and outer[0] in "([" else text
    if ";" in inner:
        rows = [split_top_level(row, ",") for row in split_top_level(inner, ";")]
    elif outer and outer[0] in "([":
        items = split_top_level(inner, ",")
        brackets = [enclosing_brackets(item) for item in items]
        if any(found is None or found[0] not in "([" for found in brackets):
            return None
        rows = [split_top_level(found[1], ",") for found in brackets if found is not None]
    else:
        return None
    rows = [[entry.strip() for entry in row] for row in rows]
    return rows if len(rows) >= 2 and len(rows[0]) >= 2 and _rectangular(rows) else None


def _rectangular(rows: Rows) -> bool:
    return bool(rows) and all(rows) and all(entry for row in rows for entry in row) and len(
        {len(row) for row in rows}) == 1
