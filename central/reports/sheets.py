"""Reports as a district office prints them: an xlsx laid out for A4, and a PDF of it.

What a clerk checks against the tubes must read whole on paper: every column as wide as
its longest value (a Chinese character counts double; a header wider than that wraps), a
title block (which report, site, day, box, when made), the header frozen on screen and
repeated on every printed page, A4 landscape one page wide, each tube set apart by a line
with its count and sealing time, each box by a line matching the handover slip printed
at the lane, and at the end the lines the seeds ask for: who registered, who checked,
who carried the box. One family of font throughout. Columns that would repeat one value
down the page (the site of a site's register, a tube's count and sealing time, which its
line prints) are hidden: the register's 14 columns left print at 8 pt or more on A4
where all 17 printed at 6. The cells are as Excel sums and sorts them: numbers, and
times as datetimes.

The rows stream: widths are measured on the first WIDTH_SAMPLE rows (a city's register
never sits in memory), which cover every kind of value a report has.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

log = logging.getLogger("central.reports")

WIDTH_SAMPLE = 5_000
WIDTH_MAX = 40            # a longer value wraps rather than push the page narrower


def display_width(value: Any) -> int:
    """Columns a value takes on screen: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


@dataclass
class Signers:
    """Who the events name for the register's closing lines, gathered as rows pass."""

    operators: set[str] = field(default_factory=set)
    couriers: dict[str, str] = field(default_factory=dict)   # box → courier
    sites: set[str] = field(default_factory=set)

    def watch(self, chunks: Iterable[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        for chunk in chunks:
            for row in chunk:
                if row.get("site"):
                    self.sites.add(row["site"])
                if row.get("operator"):
                    self.operators.add(row["operator"])
                if row.get("courier") and row.get("box"):   # custody's rows name it "id"
                    self.couriers[row["box"]] = row["courier"]
            yield chunk

    def lines(self) -> list[str]:
        couriers = sorted(set(self.couriers.values()))
        return [f"登记人：{'、'.join(sorted(self.operators)) or '＿＿＿＿'}",
                "核对人：＿＿＿＿＿＿＿＿    签字：＿＿＿＿＿＿＿＿",
                f"交接人（转运）：{'、'.join(couriers) or '＿＿＿＿'}    签字：＿＿＿＿＿＿＿＿"]


@dataclass
class Layout:
    title: str
    facts: Callable[[], list[str]]            # the title block's second line, in parts,
                                              # once the first rows have been read
    tube_column: str | None = None            # set tubes apart on this column
    box_column: str | None = None             # and boxes
    footer: Callable[[], list[str]] = list    # called once every row is written
    couriers: dict[str, str] = field(default_factory=dict)
    times: frozenset[str] = frozenset()       # columns of times: Excel datetimes
    # Columns the title names: kept off the page where they hold one value, as the report
    # was asked for one (`fixed`: --site, --box) or as every row shows (`titled`: 采样点).
    titled: frozenset[str] = frozenset()
    fixed: frozenset[str] = frozenset()
    # Columns kept off the page where every row leaves them empty (社区, 街道, 区 of a
    # report made without --sites).
    blank: frozenset[str] = frozenset()


# What the register's line after each tube prints (its count, its sealing): on the page
# there, not on each of its rows.
TUBE_LINE = ("本管人数", "封管时间")


def off_the_page(fields: list[str], layout: Layout, sample: list[dict[str, Any]],
                 whole: bool) -> set[str]:
    """The columns that would repeat one value down the page: hidden (they stay in the
    sheet, for sorting and sums), so what varies prints at a readable size."""
    hidden = {name for name in (layout.titled | layout.fixed) & set(fields)
              if name in layout.fixed or (whole and len({r.get(name) for r in sample}) == 1)}
    if layout.tube_column:
        hidden |= set(TUBE_LINE) & set(fields)
    if whole:
        hidden |= {name for name in layout.blank & set(fields)
                   if not any(r.get(name) for r in sample)}
    return hidden


def column_width(name: str, sample: list[dict[str, Any]]) -> int:
    """As wide as the widest value; a header wider than that wraps onto two lines."""
    widest = max((display_width(r.get(name, "")) for r in sample), default=0)
    return min(max(widest + 2, -(-display_width(name) // 2) + 1), WIDTH_MAX)


def write_printable(chunks: Iterable[list[dict[str, Any]]], fields: list[str],
                    layout: Layout, output: Path) -> None:
    from openpyxl import Workbook  # noqa: PLC0415 - only for xlsx
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    book = Workbook(write_only=True)
    sheet = book.create_sheet(layout.title[:31])
    rows = chain.from_iterable(chunks)
    sample = list(islice(rows, WIDTH_SAMPLE))
    hidden = off_the_page(fields, layout, sample, len(sample) < WIDTH_SAMPLE)
    for n, name in enumerate(fields, 1):
        column = sheet.column_dimensions[get_column_letter(n)]
        column.width, column.hidden = column_width(name, sample), name in hidden
    header_row = 4
    if any(display_width(name) + 2 > column_width(name, sample) for name in fields):
        sheet.row_dimensions[header_row].height = HEADER_WRAPPED_PT   # room for its lines
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    setup = sheet.page_setup
    setup.orientation, setup.paperSize = "landscape", "9"   # 9: A4
    setup.fitToWidth, setup.fitToHeight = 1, 0               # one page wide, as long as it is
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins.left = sheet.page_margins.right = MARGIN_IN
    styled = Styled(sheet)
    # Lines across the page start in its first printed column, and run over the empty ones.
    first = next((n for n, name in enumerate(fields) if name not in hidden), 0)
    indent = [None] * first
    sheet.append([*indent, styled.cell(layout.title, "title")])
    sheet.append([*indent, styled.cell("；".join(layout.facts()), "facts")])
    sheet.append([])
    sheet.append([styled.cell(name, "header") for name in fields])
    Banded(sheet, styled, fields, layout, first).write(chain(sample, rows))
    sheet.append([])
    for line in layout.footer():
        sheet.append([*indent, styled.cell(line, "footer")])
    book.save(output)


MARGIN_IN = 0.5   # left and right, inches: A4's width for the table, room to bind it
HEADER_WRAPPED_PT = 30   # a header row with a header on two lines


class Styled:
    """Cells of the layout's few kinds: the fonts and fills of a printed register, in one
    family: a face LibreOffice lacks is replaced glyph by glyph (DejaVu Serif for the
    Latin, WenQuanYi for the Chinese), and a page reads as two fonts."""

    def __init__(self, sheet: Any) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill  # noqa: PLC0415

        def font(size: int = BODY_PT, *, bold: bool = False) -> Any:
            return Font(name=FAMILY, size=size, bold=bold)

        self.sheet = sheet
        band = PatternFill("solid", fgColor="EDEDED")
        self.kinds = {"title": (font(14, bold=True), None), "facts": (font(), None),
                      "header": (font(bold=True), PatternFill("solid", fgColor="D9D9D9")),
                      "tube": (font(bold=True), band),
                      "box": (font(bold=True), PatternFill("solid", fgColor="C6DBEF")),
                      "footer": (font(), None), "body": (font(), None)}
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.header_wrap = Alignment(wrap_text=True, vertical="center")
        self.left, self.centre = Alignment(horizontal="left"), Alignment(horizontal="center")

    def cell(self, value: Any, kind: str = "") -> Any:
        from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415

        made = WriteOnlyCell(self.sheet, value=value)
        if kind:
            made.font, fill = self.kinds[kind]
            if fill is not None:
                made.fill = fill
        if kind == "header":   # a header wider than its values wraps (column_width)
            made.alignment = self.header_wrap
        return made

    def value(self, value: Any, is_time: bool) -> Any:
        """A row's value as Excel sorts and sums it: a number as a number, a time as a
        datetime shown as the report writes it; anything else (an ID number) as text."""
        if is_time and isinstance(value, str) and value:
            made = self.cell(dt.datetime.strptime(value, TIME_SHOWN), "body")
            made.number_format = TIME_FORMAT
            made.alignment = self.left   # as text was: a number's right edge meets the next
            return made
        if isinstance(value, int | float) and not isinstance(value, bool):
            made = self.cell(value, "body")
            made.alignment = self.centre   # a position or count under its header
            return made
        return self.cell("" if value is None else str(value), "body")


# The one family of every cell: the Chinese sans setup.sh installs (fonts-wqy-microhei),
# which holds Latin letters and digits as well, so nothing falls back to another face.
FAMILY = "WenQuanYi Micro Hei"
BODY_PT = 11
TIME_SHOWN = "%Y-%m-%d %H:%M:%S"          # chinese.local_time writes times so
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"       # and the sheet shows them so


class Banded:
    """Rows written with a line after each tube and each box (as the lane's slip counts)."""

    def __init__(self, sheet: Any, styled: Styled, fields: list[str], layout: Layout,
                 first: int) -> None:
        self.sheet, self.styled, self.fields, self.layout = sheet, styled, fields, layout
        self.first = first   # the first column printed: where a band's text starts
        self.tube: list[dict[str, Any]] = []
        self.box: list[dict[str, Any]] = []

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        tube_at, box_at = self.layout.tube_column, self.layout.box_column
        for row in rows:
            if tube_at and self.tube and row.get(tube_at) != self.tube[0].get(tube_at):
                self._tube_line()
            if box_at and self.box and row.get(box_at) != self.box[0].get(box_at):
                self._box_line()
            self.tube.append(row)
            self.box.append(row)
            self.sheet.append([self.styled.value(row.get(name, ""), name in self.layout.times)
                               for name in self.fields])
        if tube_at and self.tube:
            self._tube_line()
        if box_at and self.box:
            self._box_line()

    def _line(self, text: str, kind: str) -> None:
        """A band across the table; the text runs over its empty cells."""
        self.sheet.append([self.styled.cell(text if n == self.first else None, kind)
                           for n in range(len(self.fields))])

    def _tube_line(self) -> None:
        first, tube = self.tube[0], self.tube[0].get(self.layout.tube_column or "", "")
        if "本管人数" in first:     # the register
            sealed = first.get("封管时间") or "未封管"
            self._line(f"试管 {tube}：本管 {first['本管人数']} 人有效，封管 {sealed}", "tube")
        else:                       # a recall list: the tube's result
            why = first.get("检测结果") or first.get("重采原因", "")   # resample: why
            self._line(f"试管 {tube}：{why}，{len(self.tube)} 人", "tube")
        self.tube = []

    def _box_line(self) -> None:
        box = self.box[0].get(self.layout.box_column or "", "")
        tubes = {r.get(self.layout.tube_column or "") for r in self.box}
        valid = sum(r.get("状态") == "有效" for r in self.box)
        if box:   # as the lane's handover slip counts it
            courier = self.layout.couriers.get(box, "")
            self._line(f"转运箱 {box}：试管 {len(tubes)}  样本 {valid}"
                       + (f"  转运人 {courier}" if courier else "  未交接"), "box")
        self.box = []


def to_pdf(xlsx: Path, output: Path) -> None:
    """The laid-out xlsx printed to PDF by LibreOffice (headless), as a clerk would."""
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        raise ValueError("--format pdf needs LibreOffice: apt-get install "
                         "libreoffice-calc-nogui (or write --format xlsx and print that)")
    if not family_installed(FAMILY):
        log.warning("the font %r is not installed (apt-get install fonts-wqy-microhei): "
                    "LibreOffice prints the PDF in whatever faces it finds", FAMILY)
    with tempfile.TemporaryDirectory(prefix="natest-pdf-") as tmp:
        done = subprocess.run(
            [office, f"-env:UserInstallation=file://{tmp}/profile", "--headless",
             "--convert-to", "pdf", "--outdir", tmp, str(xlsx)],
            capture_output=True, text=True, timeout=600, check=False)
        made = Path(tmp) / (xlsx.stem + ".pdf")
        if done.returncode != 0 or not made.is_file():
            raise ValueError(f"LibreOffice could not print {xlsx.name}: "
                             f"{(done.stderr or done.stdout).strip()[:300]}")
        output.write_bytes(made.read_bytes())


def family_installed(family: str) -> bool:
    """Whether fontconfig (which LibreOffice asks) knows the family; True when there is
    no fc-list to ask."""
    listing = shutil.which("fc-list")
    if listing is None:
        return True
    found = subprocess.run([listing, ":", "family"], capture_output=True, text=True,
                           timeout=60, check=False).stdout
    return any(family in line.split(",") for line in found.splitlines())
