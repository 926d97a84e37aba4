"""The book's one way to show a table: Markdown built from a header and rows of cells."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from IPython.display import Markdown


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Markdown:
    """A Markdown table from a header and rows of cells (each cell shown with ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return Markdown("\n".join(lines))
