"""Reports as a district office prints them: an xlsx laid out for A4, and a PDF of it.

What a clerk checks against the tubes must read whole on paper: every column as wide as
its longest value (a Chinese character counts double), a title block (which report,
site, day, box, when made), the header frozen on screen and repeated on every printed
page, A4 landscape one page wide, each tube set apart by a line with its count and
sealing time, each box by a line matching the handover slip printed at the lane, and at
the end the lines the seeds ask for: who registered, who checked, who carried the box.

The rows stream: widths are measured on the first WIDTH_SAMPLE rows (a city's register
never sits in memory), which cover every kind of value a report has.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

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
                if row.get("courier"):
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


def write_printable(chunks: Iterable[list[dict[str, Any]]], fields: list[str],
                    layout: Layout, output: Path) -> None:
    from openpyxl import Workbook  # noqa: PLC0415 - only for xlsx
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    book = Workbook(write_only=True)
    sheet = book.create_sheet(layout.title[:31])
    rows = chain.from_iterable(chunks)
    sample = list(islice(rows, WIDTH_SAMPLE))
    for n, name in enumerate(fields, 1):
        widest = max((display_width(r.get(name, "")) for r in sample), default=0)
        sheet.column_dimensions[get_column_letter(n)].width = min(
            max(widest, display_width(name)) + 2, WIDTH_MAX)
    header_row = 4
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    setup = sheet.page_setup
    setup.orientation, setup.paperSize = "landscape", "9"   # 9: A4
    setup.fitToWidth, setup.fitToHeight = 1, 0               # one page wide, as long as it is
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    styled = Styled(sheet)
    sheet.append([styled.cell(layout.title, "title")])
    sheet.append([styled.cell("；".join(layout.facts()), "facts")])
    sheet.append([])
    sheet.append([styled.cell(name, "header") for name in fields])
    Banded(sheet, styled, fields, layout).write(chain(sample, rows))
    sheet.append([])
    for line in layout.footer():
        sheet.append([styled.cell(line, "footer")])
    book.save(output)


class Styled:
    """Cells of the layout's few kinds: the fonts and fills of a printed register."""

    def __init__(self, sheet: Any) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill  # noqa: PLC0415

        self.sheet = sheet
        band = PatternFill("solid", fgColor="EDEDED")
        self.kinds = {"title": (Font(bold=True, size=14), None),
                      "facts": (Font(size=10), None),
                      "header": (Font(bold=True), PatternFill("solid", fgColor="D9D9D9")),
                      "tube": (Font(bold=True, size=9), band),
                      "box": (Font(bold=True), PatternFill("solid", fgColor="C6DBEF")),
                      "footer": (Font(size=11), None)}
        self.wrap = Alignment(wrap_text=True, vertical="top")

    def cell(self, value: Any, kind: str = "") -> Any:
        from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415

        made = WriteOnlyCell(self.sheet, value=value)
        if kind:
            made.font, fill = self.kinds[kind]
            if fill is not None:
                made.fill = fill
        return made


class Banded:
    """Rows written with a line after each tube and each box (as the lane's slip counts)."""

    def __init__(self, sheet: Any, styled: Styled, fields: list[str], layout: Layout) -> None:
        self.sheet, self.styled, self.fields, self.layout = sheet, styled, fields, layout
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
            self.sheet.append([str(row.get(name, "")) for name in self.fields])
        if tube_at and self.tube:
            self._tube_line()
        if box_at and self.box:
            self._box_line()

    def _line(self, text: str, kind: str) -> None:
        """A band across the table; the text runs over its empty cells."""
        self.sheet.append([self.styled.cell(text, kind),
                           *(self.styled.cell(None, kind) for _ in self.fields[1:])])

    def _tube_line(self) -> None:
        first, tube = self.tube[0], self.tube[0].get(self.layout.tube_column or "", "")
        if "本管人数" in first:     # the register
            sealed = first.get("封管时间") or "未封管"
            self._line(f"试管 {tube}：本管 {first['本管人数']} 人有效，封管 {sealed}", "tube")
        else:                       # a recall list: the tube's result
            self._line(f"试管 {tube}：{first.get('检测结果', '')}，{len(self.tube)} 人", "tube")
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
