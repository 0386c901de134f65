"""A community's roster read as the community keeps it: an xlsx with a title row or two
above its header (XX社区核酸检测人员名单), or a CSV saved by Excel or WPS in UTF-8, UTF-8
with a byte-order mark, or GBK/GB18030 (told by its bytes, or named with --encoding).

The header is the first row, within the first HEADER_SEARCH, naming a column of ID
numbers; the usual Chinese headers are mapped to the fields reports read (FIELDS).
Every error names the file, the line and what to do, and never quotes a cell that may
be a person's: a roster is personal data, read and never stored or logged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from central.errors import CentralError

# Each field and the headers communities give it (compared without spaces, case, a
# trailing * or a remark in brackets: 身份证号码（必填） is 身份证号码).
FIELDS: dict[str, tuple[str, ...]] = {
    "id_number": ("id_number", "身份证号", "身份证号码", "证件号码", "证件号", "公民身份号码",
                  "身份证", "证件号码/身份证号"),
    "id_type": ("id_type", "证件类型"),
    "name": ("name", "姓名"),
    "phone": ("phone", "电话", "联系电话", "手机号", "手机号码", "手机", "联系方式"),
    "address": ("address", "现住址", "住址", "现居住地", "现居住地址", "居住地址", "地址",
                "家庭住址"),
    "building": ("building", "楼栋", "楼号", "楼栋号", "栋号"),
    "household": ("household", "户", "户号", "门牌", "门牌号", "房号", "室号"),
    # Where a person belongs, and their priority group (老幼孤残孕, 重点行业): coverage's.
    "community": ("community", "社区", "所属社区", "社区名称", "居委会", "村居"),
    "street": ("street", "街道", "所属街道", "乡镇街道"),
    "district": ("district", "区", "区县", "所属区"),
    "group": ("group", "人群分类", "人群类别", "人员类别", "人员分类", "重点人群",
              "重点人群类别", "人员类型"),
}
HEADER_SEARCH = 20    # title rows a roster may have above its header
SAVE_AS = "save it from Excel or WPS as .xlsx, or as CSV UTF-8"
REMARK = re.compile(r"[\s*＊:：]|[（(][^）)]*[）)]")


class RosterRefused(CentralError, ValueError):
    """A roster that cannot be read as it is; the text names the file, the line and what
    to do about it."""


@dataclass
class Table:
    """A roster's header (its own names), where each field is, and its rows after the
    header: (line as a spreadsheet numbers it, cells as text)."""

    path: Path
    header: list[str]
    fields: dict[str, int]
    rows: Iterator[tuple[int, list[str]]]
    header_at: int = 1   # the header's line (title rows may sit above it)

    def value(self, cells: list[str], field: str) -> str:
        at = self.fields.get(field)
        return cells[at].strip() if at is not None and at < len(cells) else ""

    def as_named(self, cells: list[str]) -> dict[str, str]:
        """A row under the roster's own names (a name given twice: its first column)."""
        named: dict[str, str] = {}
        for at, name in enumerate(self.header):
            if name and name not in named:
                named[name] = cells[at] if at < len(cells) else ""
        return named


Part = tuple[int, int]   # the k-th of n parts of a roster's rows (0-based); (0, 1): all
WHOLE: Part = (0, 1)


def read(path: Path, encoding: str = "", part: Part = WHOLE) -> Table:
    """The roster at `path` (xlsx, or CSV in `encoding`, or told by its bytes); of its
    rows, those of `part` (split_rows says which), numbered as in the whole file."""
    suffix = path.suffix.lower()
    if suffix in (".xls", ".et", ".wps"):
        raise RosterRefused(f"{path}: an old or WPS workbook, which is not read: {SAVE_AS}")
    text, delimiter = ("", "") if suffix == ".xlsx" else csv_text(path, encoding)
    cut = part != WHOLE and cuttable(text)
    # Cut, the header is looked for in the first lines alone (the parts are read apart).
    lines = enumerate(_xlsx_rows(path) if suffix == ".xlsx" else _csv_reader(
        text[:_after_lines(text, HEADER_SEARCH)] if cut else text, delimiter), 1)
    seen: list[tuple[int, list[str]]] = []
    for line, cells in lines:
        fields = _fields(cells)
        if "id_number" in fields:
            rows = split_rows(text, delimiter, line, part) if cut else (
                lines if part[0] == 0 else iter(()))   # not cut: part 0 reads every row
            return Table(path, [c.strip() for c in cells], fields, rows, line)
        seen.append((line, cells))
        if line >= HEADER_SEARCH:
            break
    raise RosterRefused(_no_header(path, seen))


LINE_END = re.compile(r"\r\n|\r|\n")   # as csv ends a row (newline="": each kept as read)


def cuttable(text: str) -> bool:
    """Whether a CSV's text can be cut in parts at line ends: only one with no quote at
    all (where a quote may open a cell holding a line end, a line end is not always a
    row's, and nothing short of reading it all from the top tells which)."""
    return bool(text) and '"' not in text


def split_rows(text: str, delimiter: str, header_at: int, part: Part
               ) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header (at line `header_at`) of part k of n of a `cuttable`
    text: cut where the first row at or after each of its n equal shares begins, each
    row numbered as in the whole (a city's roster read by two processes at once:
    coverage_apart.py)."""
    k, n = part
    start = _after_lines(text, header_at)
    cuts = [_line_after(text, start + (len(text) - start) * i // n) for i in (k, k + 1)]
    first_line = header_at + 1 + _line_ends(text, start, cuts[0])
    return enumerate(_quoteless_rows(text[cuts[0]:cuts[1]], delimiter), first_line)


def _quoteless_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    """The rows csv reads of a text with no quote: its lines (ended as csv ends them)
    split at the delimiter, an empty line an empty row; in a third less time than csv's
    (1.2 against 1.8 s for half a city's roster)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":   # past the last line's end: no row
        lines.pop()
    return (line.split(delimiter) if line else [] for line in lines)


def _after_lines(text: str, count: int) -> int:
    """Where the text after its first `count` lines begins."""
    start = 0
    for _ in range(count):
        end = LINE_END.search(text, start)
        start = end.end() if end else len(text)
    return start


def _line_after(text: str, at: int) -> int:
    """Where the row after the one holding `at` begins (`at` itself if one begins there)."""
    if at == 0 or at >= len(text) or text[at - 1] == "\n" or (
            text[at - 1] == "\r" and text[at] != "\n"):
        return min(at, len(text))
    end = LINE_END.search(text, at)
    return end.end() if end else len(text)


def _line_ends(text: str, start: int, end: int) -> int:
    """The rows ended in text[start:end] ("\r\n" ends one, as "\r" or "\n" alone do)."""
    ended = text.count("\n", start, end)
    if "\r" in text:   # a pass of its own, and two more only where one is there
        ended += text.count("\r", start, end) - text.count("\r\n", start, end)
    return ended


def folded(header: str) -> str:
    return REMARK.sub("", header).casefold()


def _fields(cells: list[str]) -> dict[str, int]:
    names_given = [folded(c) for c in cells]
    return {field: names_given.index(name) for field, names in FIELDS.items()
            for name in reversed(names) if name in names_given}


def _no_header(path: Path, seen: list[tuple[int, list[str]]]) -> str:
    rows = [(line, [c.strip() for c in cells if c.strip()]) for line, cells in seen]
    rows = [(line, cells) for line, cells in rows if cells]
    if not rows:
        return f"{path}: line 1: empty: the roster has no rows ({SAVE_AS})"
    where = f"lines 1-{seen[-1][0]}" if len(seen) > 1 else "line 1"
    said = f"{path}: {where}: no column of ID numbers"
    named = "name the ID numbers' column 身份证号 or 证件号码 (or id_number) in the header row"
    # Named by its line and its count, never its cells: a row without a 6-digit run may
    # still be a person's (a name, an address, an ID number Excel made 1.10101E+17).
    line, cells = max(rows, key=lambda row: len(row[1]))
    return f"{said}; line {line}, the fullest, has {len(cells)} cells filled: {named}"


def csv_rows(path: Path, encoding: str, save_as: str = SAVE_AS) -> Iterator[list[str]]:
    """A CSV's rows, comma- or tab-separated; `save_as`: how to save it readably."""
    return _csv_reader(*csv_text(path, encoding, save_as))


def csv_text(path: Path, encoding: str, save_as: str = SAVE_AS) -> tuple[str, str]:
    """A CSV's text and its delimiter: a comma, or a tab where the text has more."""
    text = decode(path, path.read_bytes(), encoding, save_as)
    sample = text[:4096]   # past any title rows: Excel's "Unicode text" is tab-separated
    return text, "\t" if sample.count("\t") > sample.count(",") else ","


def _csv_reader(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def decode(path: Path, raw: bytes, encoding: str, save_as: str = SAVE_AS) -> str:
    """The text of a CSV: in `encoding` if given, else UTF-8 (with or without a BOM),
    UTF-16 with a BOM (Excel's "Unicode text"), or GB18030 (which reads GBK)."""
    if encoding:
        return _decoded(path, raw, encoding, f"not {encoding} text", "name another "
                        "--encoding, or leave it out to have it told by the bytes")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decoded(path, raw, "utf-16", "not UTF-16 text", save_as)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Mostly UTF-8 with a byte gone wrong: read as GBK it would make every name
        # garbage, so it is refused where it breaks.
        good = raw[:exc.start].decode("utf-8", "replace")
        if sum(ord(c) > 127 for c in good) > 2 * raw.decode("utf-8", "replace").count("\ufffd"):
            raise _undecodable(path, raw, exc, "UTF-8 text with a damaged byte", save_as
                               ) from None
    return _decoded(path, raw, "gb18030", "neither UTF-8 nor GBK/GB18030 text",
                    f"{save_as}, or name its encoding with --encoding")


def _decoded(path: Path, raw: bytes, encoding: str, what: str, hint: str) -> str:
    try:
        return raw.decode("utf-8-sig" if encoding.lower().replace("_", "-") in (
            "utf-8", "utf8") else encoding)
    except LookupError:
        raise RosterRefused(f"{path}: --encoding {encoding}: no such encoding (utf-8, "
                            "gb18030, utf-16)") from None
    except UnicodeDecodeError as exc:
        raise _undecodable(path, raw, exc, what, hint) from None


def _undecodable(path: Path, raw: bytes, exc: UnicodeDecodeError, what: str,
                 hint: str) -> RosterRefused:
    line = raw.count(b"\n", 0, exc.start) + 1
    column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    return RosterRefused(f"{path}: line {line}: {what} (byte 0x{raw[exc.start]:02x} at byte "
                         f"{column} of the line): {hint}")


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only for xlsx
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        # BadZipFile: named .xlsx but no zip (a CSV renamed, a password-protected workbook)
        raise RosterRefused(f"{path}: not an xlsx workbook ({type(exc).__name__}): "
                            f"{SAVE_AS}") from None
    try:
        for values in book.worksheets[0].iter_rows(values_only=True):
            yield [cell_text(v) for v in values]
    finally:
        book.close()


def cell_text(value: Any) -> str:
    """A spreadsheet's cell as the roster's text. An 18-digit number kept as a number has
    lost its last digits: written as Excel shows it (1.10101E+17), which the roster check
    names for what it is."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        if abs(value) >= 1e15:
            return f"{float(value):.5E}"
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)
