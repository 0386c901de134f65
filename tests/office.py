"""Spreadsheets read by programs nobody here wrote: LibreOffice opens what reports write,
and openpyxl writes what a lab's system would export."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

needs_libreoffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice: apt-get install libreoffice-calc-nogui")


def libreoffice_rows(book: Path, work: Path) -> list[list[str]]:
    """The first sheet of an xlsx as LibreOffice reads it (converted to UTF-8 CSV)."""
    out = work / "lo"
    done = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{work}/lo-profile", "--headless",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(out),
         str(book)], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    text = (out / book.with_suffix(".csv").name).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))


def csv_cells(path: Path) -> list[list[str]]:
    """A report's CSV file (with its byte-order mark) as cells."""
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def workbook(path: Path, rows: list[list[Any]]) -> Path:
    """An xlsx with these rows on its first sheet, as a lab's system exports it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def table_in(cells: list[list[str]], first_header: str) -> list[list[str]]:
    """A laid-out sheet's table: from its header row, without the title block above it,
    the lines that set tubes and boxes apart, and the closing lines (a row whose only
    value is in its first cell)."""
    start = next(n for n, row in enumerate(cells) if row and row[0] == first_header)
    return [row for row in cells[start:] if sum(bool(v) for v in row) > 1]
