"""What labs send back, read from the files their systems export: results per tube
(`import-results`) and box receipts (`import-receipts`), as CSV or as xlsx.

A lab's system (LIS) names its columns in Chinese or English; the usual names of each
are accepted (HEADERS), and the header is the first row, within HEADER_SEARCH, naming a
column for every field the file must have: title rows above it (a merged title cell, the
lab's name, a blank row) are passed over. Cells are read as labs and Excel write them
(lab_cells.py): the verdict's spellings, a date cell or a date's serial number, an id
Excel turned into a number. Times are the lab's local time (`--tz`) unless they carry an
offset. Every row that cannot be read is reported with its line and why; the caller
stores nothing of a file with any such row. Nothing personal is in these files: tube and
box ids, counts, times.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import BadZipFile
from zoneinfo import ZoneInfo

from central.errors import CentralError
from central.intake.lab_cells import (
    count_of,
    ct_value,
    fold,
    identifier,
    time_of,
    verdict_of,
)
from central.store.lab_tables import Receipt, Result

# Each field, and the header names labs' exports use for it: compared folded (lab_cells.
# fold: no case, no spaces, full-width as ASCII) and without a remark in brackets (检测结果
# （阴/阳）is 检测结果). Where a file has two of a field's names, the first named here wins
# (条码号, the tube's barcode, over 样本编号, often the lab's own running number).
HEADERS: dict[str, tuple[str, ...]] = {
    "tube": ("tube", "tube_id", "试管编号", "条码号", "条码", "样本条码", "管号", "barcode",
             "sample_id", "样本编号"),
    "result": ("result", "检测结果", "核酸检测结果", "结果"),
    "lab": ("lab", "检测机构", "实验室", "检测单位"),
    "tested_at": ("tested_at", "报告时间", "检测时间", "time"),
    "ct_orf1ab": ("ct_orf1ab", "orf1ab基因ct值", "orf1ab ct", "orf1ab基因", "orf1ab"),
    "ct_n": ("ct_n", "n基因ct值", "n ct", "n基因", "n"),
    "box": ("box", "转运箱号", "转运箱", "箱号"),
    "tubes": ("tubes", "tube_count", "试管数", "管数"),
    "received_at": ("received_at", "接收时间", "签收时间"),
}
HEADER_SEARCH = 20   # title rows a lab's export may have above its header


class FileRefused(CentralError, ValueError):
    """The file as a whole cannot be read (encoding, headers, format)."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]   # field → the cell as read (text, or a spreadsheet's value)


def rows(path: Path, wanted: tuple[str, ...], optional: tuple[str, ...],
         encoding: str = "utf-8") -> Iterator[Row]:
    """The rows below the header of a CSV or xlsx file, by field; FileRefused names what
    is wrong."""
    table = enumerate(xlsx_rows(path) if path.suffix.lower() == ".xlsx"
                      else _csv_rows(path, encoding), 1)
    columns = _header(path, table, wanted, optional)
    for line, cells in table:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue   # a blank line a spreadsheet left at the end
        yield Row(line, {field: cells[i] if i < len(cells) else None
                         for field, i in columns.items()})


def folded_header(header: Any) -> str:
    text = fold(str(header or "")).rstrip("*")
    bare = text.split("(", 1)[0]   # a remark in brackets: 检测结果(阴/阳)
    return bare if bare else text


FOLDED = {field: [folded_header(name) for name in names] for field, names in HEADERS.items()}


def _header(path: Path, table: Iterator[tuple[int, list[Any]]], wanted: tuple[str, ...],
            optional: tuple[str, ...]) -> dict[str, int]:
    """Where each field is, from the first row naming every wanted field."""
    seen: list[tuple[int, int, int, list[Any]]] = []   # (fields named, cells, line, cells)
    for line, cells in table:
        found = _columns(path, line, cells, (*wanted, *optional))
        if all(field in found for field in wanted):
            return found
        filled = sum(bool(str(c or "").strip()) for c in cells)
        seen.append((sum(field in found for field in wanted), filled, -line, cells))
        if line >= HEADER_SEARCH:
            break
    if not seen:
        raise FileRefused(f"{path}: empty")
    _, _, line, cells = max(seen, key=lambda row: row[:3])   # the likeliest header
    found = _columns(path, -line, cells, wanted)
    missing = [field for field in wanted if field not in found]
    shown = ", ".join(str(c).strip() for c in cells if str(c or "").strip())
    raise FileRefused(
        f"{path}: line {-line}: no column for {', '.join(missing)} (accepted names: "
        + "; ".join(f"{f}: {'/'.join(HEADERS[f])}" for f in missing)
        + f"; no row of the first {HEADER_SEARCH} names them all; line {-line}, the "
        f"likeliest header, has: {shown or 'nothing'})")


def _columns(path: Path, line: int, cells: list[Any], fields: tuple[str, ...]) -> dict[
        str, int]:
    """Field → its column in this row; two columns that can each be the field refused."""
    folded = [folded_header(c) for c in cells]
    found = {}
    for field in fields:
        for name in FOLDED[field]:
            at = [i for i, header in enumerate(folded) if header == name]
            if len(at) > 1:
                raise FileRefused(
                    f"{path}: line {line}: columns {' and '.join(_column(i) for i in at)} "
                    f"({' and '.join(str(cells[i]).strip() for i in at)}) can each be the "
                    f"{field}: rename the one that is not")
            if at:
                found[field] = at[0]
                break
    return found


def _column(index: int) -> str:
    """A column as a spreadsheet names it: 0 → A, 26 → AA."""
    name = ""
    index += 1
    while index:
        index, left = divmod(index - 1, 26)
        name = chr(ord("A") + left) + name
    return name


def _csv_rows(path: Path, encoding: str) -> Iterator[list[Any]]:
    text = text_of(path, encoding, "a file saved as GBK? export it as UTF-8, or name its "
                   "encoding: --encoding gb18030")
    yield from csv.reader(io.StringIO(text, newline=""))


def text_of(path: Path, encoding: str, hint: str) -> str:
    """A text file's text (UTF-8 with or without a BOM); FileRefused names the line it
    breaks at, and `hint` says what to do."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileRefused(f"{path}: line {line}: not {encoding} text ({hint})") from None


def xlsx_rows(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only for xlsx
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        raise FileRefused(f"{path}: not an xlsx workbook ({type(exc).__name__}: {exc})"
                          ) from None
    try:
        for values in book.worksheets[0].iter_rows(values_only=True):
            yield list(values)
    finally:
        book.close()


def result_of(row: Row, lab: str, zone: ZoneInfo) -> Result:
    """One row of a results file; ValueError says why it cannot be."""
    values = row.values
    result = verdict_of(values["result"])
    lab_name = str(values.get("lab") or "").strip() or lab
    if not lab_name:
        raise ValueError("no lab: the file has no lab column here, and --lab was not given")
    return Result(row.line, identifier(values["tube"], "tube"), lab_name,
                  time_of(values["tested_at"], "time tested", zone), result,
                  ct_value(values.get("ct_orf1ab"), "ORF1ab Ct"),
                  ct_value(values.get("ct_n"), "N Ct"))


def receipt_of(row: Row, lab: str, zone: ZoneInfo) -> Receipt:
    values = row.values
    lab_name = str(values.get("lab") or "").strip() or lab
    if not lab_name:
        raise ValueError("no lab: the file has no lab column here, and --lab was not given")
    return Receipt(row.line, identifier(values["box"], "box"), lab_name,
                   count_of(values["tubes"], "tube count"),
                   time_of(values["received_at"], "time received", zone))
