"""A report's rows written out as the machine reads them: CSV (text, or a file written
chunk by chunk) and a plain xlsx sheet. The printed Chinese layout is sheets.py's.

CSV starts with a UTF-8 byte-order mark: a spreadsheet then shows Chinese right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def to_xlsx(chunks: Iterable[list[dict[str, Any]]], fields: list[str], title: str,
            output: Path) -> None:
    from openpyxl import Workbook  # noqa: PLC0415 - only for xlsx

    book = Workbook(write_only=True)   # rows go to disk as they come
    sheet = book.create_sheet(title)
    sheet.append(fields)
    for chunk in chunks:
        for row in chunk:
            sheet.append([cell(row.get(name, "")) for name in fields])
    book.save(output)


def cell(value: Any) -> Any:
    """A number as a number (a spreadsheet sums and sorts it); anything else as text: ID
    numbers and tube ids are strings, kept so (as numbers a spreadsheet would round the
    last digits), and times stay RFC 3339 UTC, as programs read them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return "" if value is None else str(value)


def write_csv(chunks: Iterable[list[dict[str, Any]]], fields: list[str], title: str,
              output: Path) -> None:
    """As to_csv, to a file, chunk by chunk."""
    with output.open("w", encoding="utf-8", newline="") as f:
        f.write("\ufeff")
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for chunk in chunks:
            writer.writerows(chunk)


def to_csv(rows: list[dict[str, Any]], fields: list[str] | None = None) -> str:
    out = io.StringIO()
    names = fields or (list(rows[0]) if rows else [])
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()
