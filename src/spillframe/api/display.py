"""How a DataFrame shows itself: ``repr``, and in notebooks HTML and Markdown.

None of these runs a query. A collected DataFrame previews its first
:data:`PREVIEW_ROWS` rows from its cached partitions (reading only the partitions
those rows are in); a lazy one shows its columns and types and says how to see data
(``show()`` runs the query for a few rows, ``collect()`` runs it all), as Daft does.
A notebook cell that ends with a lazy DataFrame therefore costs nothing.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from spillframe.api.dataframe import DataFrame

#: Rows a materialized DataFrame previews.
PREVIEW_ROWS = 8
#: Longest cell text before it is cut with an ellipsis.
CELL_WIDTH = 40
NOT_MATERIALIZED = (
    "(No data to display: DataFrame not materialized; .show() runs the query for a "
    "preview, .collect() runs all of it)"
)


def preview(df: DataFrame, n: int = PREVIEW_ROWS) -> tuple[pa.Table, int] | None:
    """The first ``n`` cached rows and the total row count; None for a lazy DataFrame."""
    cache = df._cache
    if cache is None:
        return None
    from spillframe.kernels.exchange import concat_tables

    taken, rows = [], 0
    for table in cache:
        if rows >= n:
            break
        taken.append(table.slice(0, n - rows))
        rows += taken[-1].num_rows
    return concat_tables(taken, df.schema()), sum(t.num_rows for t in cache)


def footer(shown: int, total: int) -> str:
    """``(showing first 8 of 1,000 rows)``, or ``(showing all 3 rows)``; Daft's ``(No
    data to display: ...)`` without rows."""
    if total == 0:
        from spillframe.api.dataframe import NO_ROWS

        return NO_ROWS
    if shown == total:
        return f"(showing all {total:,} rows)"
    return f"(showing first {shown:,} of {total:,} rows)"


def text(df: DataFrame) -> str:
    """The plain-text repr: a grid of the preview, or of the columns when lazy."""
    from spillframe.api.dataframe import _format_table

    found = preview(df)
    table = found[0] if found else df.schema().empty_table()
    lines = _format_table(table).split("\n")
    if lines and lines[-1].startswith("("):
        lines = lines[:-1]  # the grid's own footer; ours says what was (not) run
    lines.append(footer(table.num_rows, found[1]) if found else NOT_MATERIALIZED)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    shown = "None" if value is None else str(value)
    return shown if len(shown) <= CELL_WIDTH else shown[: CELL_WIDTH - 1] + "…"


def html_table(df: DataFrame) -> str:
    """``<table>`` of the preview (or of the columns and types when lazy)."""
    found = preview(df)
    schema = df.schema()
    head = "".join(
        f"<th>{html.escape(f.name)}<br/><small>{html.escape(str(f.type))}</small></th>"
        for f in schema
    )
    body = ""
    if found:
        for row in found[0].to_pylist():
            cells = "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row.values())
            body += f"<tr>{cells}</tr>"
    note = footer(found[0].num_rows, found[1]) if found else NOT_MATERIALIZED
    return (
        '<div class="spillframe-dataframe"><table class="dataframe">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<small>{html.escape(note)}</small></div>"
    )


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown_table(df: DataFrame) -> str:
    """A Markdown table of the preview (or of the columns and types when lazy)."""
    found = preview(df)
    schema = df.schema()
    lines = [
        "| " + " | ".join(f"{_md(f.name)} ({_md(str(f.type))})" for f in schema) + " |",
        "|" + "|".join("---" for _ in schema) + "|",
    ]
    if found:
        for row in found[0].to_pylist():
            lines.append("| " + " | ".join(_md(_cell(v)) for v in row.values()) + " |")
    note = footer(found[0].num_rows, found[1]) if found else NOT_MATERIALIZED
    return "\n".join(lines) + "\n\n" + _md(note)
