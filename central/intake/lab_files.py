"""What labs send back, read from the files their systems export: results per tube
(`import-results`) and box receipts (`import-receipts`), as CSV with a header row or
as xlsx.

A lab's system (LIS) names its columns in Chinese or English; the usual names of each
are accepted (HEADERS). Results are 阴性/阳性/无效 (需重采), or negative/positive/invalid;
times are the lab's local time (`--tz`) unless they carry an offset. Every row that
cannot be read is reported with its line and why; the caller stores nothing of a file
with any such row. Nothing personal is in these files: tube and box ids, counts, times.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.errors import CentralError
from central.site_facts import moment
from central.store.lab_tables import Receipt, Result, Verdict

# Each field, and the header names labs' exports use for it (compared without case).
HEADERS: dict[str, tuple[str, ...]] = {
    "tube": ("tube", "tube_id", "sample_id", "试管编号", "样本编号", "条码号", "条码", "管号"),
    "result": ("result", "检测结果", "结果"),
    "lab": ("lab", "检测机构", "实验室", "检测单位"),
    "tested_at": ("tested_at", "time", "检测时间", "报告时间"),
    "ct_orf1ab": ("ct_orf1ab", "orf1ab", "orf1ab ct", "orf1ab基因ct值", "orf1ab基因"),
    "ct_n": ("ct_n", "n", "n ct", "n基因ct值", "n基因"),
    "box": ("box", "转运箱", "转运箱号", "箱号"),
    "tubes": ("tubes", "tube_count", "试管数", "管数"),
    "received_at": ("received_at", "接收时间", "签收时间"),
}
RESULTS: dict[str, Verdict] = {"阴性": "negative", "negative": "negative", "neg": "negative",
           "阳性": "positive", "positive": "positive", "pos": "positive",
           "无效": "invalid", "需重采": "invalid", "无效/需重采": "invalid",
           "invalid": "invalid"}
NO_VALUE = ("", "-", "/", "na", "n/a", "无", "未检出")
ID_MAX = 64   # the contract's tube and box ids


class FileRefused(CentralError, ValueError):
    """The file as a whole cannot be read (encoding, headers, format)."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]   # field → the cell as read (text, or a spreadsheet's value)


def rows(path: Path, wanted: tuple[str, ...], optional: tuple[str, ...],
         encoding: str = "utf-8") -> Iterator[Row]:
    """The rows of a CSV or xlsx file, by field; FileRefused names what is wrong."""
    table = _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _csv_rows(path, encoding)
    header = next(table, None)
    if header is None:
        raise FileRefused(f"{path}: empty")
    columns = _columns(path, [str(h or "").strip() for h in header], wanted, optional)
    for line, cells in enumerate(table, 2):
        if all(c is None or str(c).strip() == "" for c in cells):
            continue   # a blank line a spreadsheet left at the end
        yield Row(line, {field: cells[i] if i < len(cells) else None
                         for field, i in columns.items()})


def _columns(path: Path, header: list[str], wanted: tuple[str, ...],
             optional: tuple[str, ...]) -> dict[str, int]:
    folded = [h.casefold() for h in header]
    found = {field: folded.index(name) for field in (*wanted, *optional)
             for name in HEADERS[field] if name in folded}
    missing = [field for field in wanted if field not in found]
    if missing:
        raise FileRefused(
            f"{path}: line 1: no column for {', '.join(missing)} (accepted names: "
            + "; ".join(f"{f}: {'/'.join(HEADERS[f][:4])}" for f in missing)
            + f"; the file has: {', '.join(header) or 'nothing'})")
    return found


def _csv_rows(path: Path, encoding: str) -> Iterator[list[Any]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileRefused(
            f"{path}: line {line}: not {encoding} text (a file saved as GBK? export it as "
            "UTF-8, or name its encoding: --encoding gb18030)") from None
    yield from csv.reader(io.StringIO(text, newline=""))


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only for xlsx
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise FileRefused(f"{path}: not an xlsx workbook ({exc})") from None
    try:
        for values in book.worksheets[0].iter_rows(values_only=True):
            yield list(values)
    finally:
        book.close()


def identifier(value: Any, what: str) -> str:
    """A tube or box id as printed on its label; a number means a spreadsheet ate it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{what} is a number in the spreadsheet ({value}): leading zeros "
                         "may be lost; format that column as text and export again")
    text = str(value or "").strip()
    if not text or len(text) > ID_MAX or any(c.isspace() for c in text):
        raise ValueError(f"{what} {text!r} is not a {what} id")
    return text


def ct_value(value: Any, what: str) -> float | None:
    if value is None or str(value).strip().casefold() in NO_VALUE:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a Ct value") from None
    if not (math.isfinite(number) and 0 <= number <= 50):
        raise ValueError(f"{what} {number} is not a Ct value (0 to 50)")
    return number


def result_of(row: Row, lab: str, zone: ZoneInfo) -> Result:
    """One row of a results file; ValueError says why it cannot be."""
    values = row.values
    text = str(values["result"] or "").strip()
    result = RESULTS.get(text.casefold())
    if result is None:
        raise ValueError(f"result {text!r} is not 阴性/阳性/无效 (negative/positive/invalid)")
    lab_name = str(values.get("lab") or "").strip() or lab
    if not lab_name:
        raise ValueError("no lab: the file has no lab column here, and --lab was not given")
    return Result(row.line, identifier(values["tube"], "tube"), lab_name,
                  moment(values["tested_at"], "time tested", zone), result,
                  ct_value(values.get("ct_orf1ab"), "ORF1ab Ct"),
                  ct_value(values.get("ct_n"), "N Ct"))


def receipt_of(row: Row, lab: str, zone: ZoneInfo) -> Receipt:
    values = row.values
    lab_name = str(values.get("lab") or "").strip() or lab
    if not lab_name:
        raise ValueError("no lab: the file has no lab column here, and --lab was not given")
    cell = values["tubes"]
    count = str(int(cell) if isinstance(cell, float) and cell.is_integer() else cell or "")
    count = count.strip()
    if not count.isdigit():
        raise ValueError(f"tube count {count!r} is not a number")
    return Receipt(row.line, identifier(values["box"], "box"), lab_name, int(count),
                   moment(values["received_at"], "time received", zone))
