"""Metadata every asset attaches so the Dagster UI shows what was produced."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from fitsense_core.synthetic.tables import TableSet

PREVIEW_ROWS = 5


def markdown_table(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small markdown table of the first rows (long values shortened)."""
    head = frame.head(rows)

    def cell(value: Any) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 40 else text[:37] + "..."

    lines = [
        "| " + " | ".join(map(str, head.columns)) + " |",
        "| " + " | ".join("---" for _ in head.columns) + " |",
    ]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in head.itertuples(index=False)
    ]
    return "\n".join(lines)


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=str(c), type=str(frame[c].dtype)) for c in frame.columns]
    )


def tableset_metadata(tableset: TableSet, main: str, uri: str) -> dict[str, Any]:
    """Row counts of every table, the main table's schema and preview, and where it lives."""
    counts = tableset.row_counts()
    preview = "\n\n".join(
        f"**{name}** ({len(frame):,} rows)\n\n{markdown_table(frame, 3)}"
        for name, frame in tableset.tables.items()
        if name != main
    )
    return {
        "dagster/row_count": counts[main],
        "dagster/column_schema": column_schema(tableset[main]),
        "total_rows": sum(counts.values()),
        "row_counts": dg.MetadataValue.json(counts),
        "preview": dg.MetadataValue.md(f"**{main}**\n\n{markdown_table(tableset[main])}"),
        "related_tables": dg.MetadataValue.md(preview or "(none)"),
        "uri": dg.MetadataValue.path(uri),
    }
