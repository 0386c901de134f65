"""The daily brief on paper: one A4 page (a sheet of the xlsx) per level, each unit's row
under the unit above it, as an office reads the chain: the sites under their community,
the communities under their street, the streets under their district, and the districts
with the whole's total last. Each group opens with its parent's own row (its sums) on a
band, and every page ends with the total. Printed to PDF by LibreOffice, as every paper
is (sheets.to_pdf).

Its rows are brief.py's, as chinese.rows renders them (headers from the catalogue).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from central.reports.catalogue import REPORTS
from central.reports.chinese import VALUES
from central.reports.coverage_roster import UNPLACED
from central.reports.sheets import (
    HEADER_WRAPPED_PT,
    MARGIN_IN,
    WIDTH_MAX,
    Styled,
    column_width,
    display_width,
    to_pdf,
)

BRIEF = REPORTS["brief"]
LEVEL, SITE, NAME = (BRIEF.header_of(key) for key in ("level", "site", "site_name"))
PLACES = {key: BRIEF.header_of(key) for key in ("district", "street", "community")}
# What a level's rows read as (chinese.py): each a page, and the whole its last line.
SHOWN = VALUES["level"]
# Not on paper as columns: the chain (the page's band names it) and the level.
CHAIN = {LEVEL, SITE, NAME, *PLACES.values()}
COVERAGE = tuple(BRIEF.header_of(k) for k in ("roster", "tested", "untested", "coverage"))


@dataclass(frozen=True)
class Page:
    level: str                       # whose rows it lists
    parent: str                      # under whose band
    names: tuple[str, ...]           # the unit's own columns
    name_of: Callable[[dict[str, Any]], tuple[str, ...]]   # a unit's row: its names
    band_of: Callable[[dict[str, Any]], str]   # a unit's row: its parent's band


def _place(row: dict[str, Any], key: str) -> str:
    return str(row.get(PLACES[key]) or UNPLACED)   # a level the sites file leaves empty


def _band(row: dict[str, Any], *keys: str) -> str:
    """A parent's name, the places above it in brackets: 幸福社区（长安街道，东城区）; a
    site the file lacks is 未登记站点 at every level, said once."""
    first, *above = [_place(row, key) for key in keys]
    above = [place for place in above if place != first]
    return f"{first}（{'，'.join(above)}）" if above else first


PAGES = (
    Page("site", "community", ("采样点编号", "采样点名称"),
         lambda r: (str(r[SITE]), str(r[NAME])),
         lambda r: _band(r, "community", "street", "district")),
    Page("community", "street", ("社区",), lambda r: (_place(r, "community"),),
         lambda r: _band(r, "street", "district")),
    Page("street", "district", ("街道",), lambda r: (_place(r, "street"),),
         lambda r: _place(r, "district")),
    Page("district", "total", ("区",), lambda r: (_place(r, "district"),),
         lambda r: SHOWN["total"]),
)


def parent_key(row: dict[str, Any], parent: str) -> tuple[str, ...]:
    """The places that name a unit's parent: (district, street, community) down to it."""
    keys = ("district", "street", "community")
    upto = {"total": 0, "district": 1, "street": 2, "community": 3}[parent]
    return tuple(str(row.get(PLACES[k]) or "") for k in keys[:upto])


def write_brief(rows: Iterable[dict[str, Any]], facts: list[str], output: Path,
                fmt: str) -> None:
    """The brief's pages as an xlsx, or printed from it to PDF."""
    if fmt == "xlsx":
        _write(list(rows), facts, output)
        return
    with tempfile.TemporaryDirectory(prefix="natest-brief-") as tmp:
        sheet = Path(tmp) / f"{BRIEF.title}.xlsx"
        _write(list(rows), facts, sheet)
        to_pdf(sheet, output)


def _write(rows: list[dict[str, Any]], facts: list[str], output: Path) -> None:
    from openpyxl import Workbook  # noqa: PLC0415 - only for xlsx

    covered = any(r.get(COVERAGE[0]) not in ("", None) for r in rows)
    figures = [h for h in BRIEF.headers if h not in CHAIN and (covered or h not in COVERAGE)]
    by_level: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_level.setdefault(str(r[LEVEL]), []).append(r)
    book = Workbook(write_only=True)
    for page in PAGES:
        shown = [h for h in figures if page.level != "site" or h not in COVERAGE]
        _page(book.create_sheet(SHOWN[page.level]), page, shown, by_level, facts)
    book.save(output)


def _page(sheet: Any, page: Page, figures: list[str],
          by_level: dict[str, list[dict[str, Any]]], facts: list[str]) -> None:
    """A level's page: a band for each parent with its sums, its units' rows under it,
    the whole's total at the end."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    units = by_level.get(SHOWN[page.level], [])
    parents = {parent_key(r, page.parent): r for r in by_level.get(SHOWN[page.parent], [])}
    total = by_level.get(SHOWN["total"], [{}])[0]
    fields = [*page.names, *figures]
    for n, width in enumerate(widths(page, units, figures), 1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    _setup(sheet)
    styled = Styled(sheet)
    sheet.append([styled.cell(f"{BRIEF.title}：{SHOWN[page.level]}", "title")])
    sheet.append([styled.cell("；".join(facts), "facts")])
    sheet.append([])
    sheet.append([styled.cell(name, "header") for name in fields])
    seen: list[tuple[str, ...]] = []
    for r in units:
        key = parent_key(r, page.parent)
        if key not in seen:
            seen.append(key)
            if page.parent != "total":
                band = parents.get(key, {})
                sheet.append(_cells(styled, [page.band_of(r), *[""] * (len(page.names) - 1)],
                                    band, figures, "tube"))
        sheet.append(_cells(styled, list(page.name_of(r)), r, figures, ""))
    sheet.append(_cells(styled, [SHOWN["total"], *[""] * (len(page.names) - 1)], total,
                        figures, "box"))


def widths(page: Page, units: list[dict[str, Any]], figures: list[str]) -> list[int]:
    """Each column as wide as its widest value; a band's name runs over the unit's own
    columns, the last of them made wide enough for it."""
    names = [dict(zip(page.names, page.name_of(r), strict=True)) for r in units]
    found = [column_width(name, names) for name in page.names]
    band = max((display_width(page.band_of(r)) + 2 for r in units), default=0)
    found[-1] += max(0, min(band, WIDTH_MAX) - sum(found))
    return found + [column_width(name, units) for name in figures]


def _cells(styled: Styled, names: list[str], row: dict[str, Any], figures: list[str],
           kind: str) -> list[Any]:
    cells = [styled.cell(name, kind or "body") for name in names]
    for header in figures:
        made = styled.value(row.get(header, ""), False)
        if kind:
            made.font, fill = styled.kinds[kind]
            made.fill = fill
        cells.append(made)
    return cells


def _setup(sheet: Any) -> None:
    """A4 landscape, one page wide, the header frozen and on every printed page."""
    header_row = 4
    sheet.row_dimensions[header_row].height = HEADER_WRAPPED_PT
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    setup = sheet.page_setup
    setup.orientation, setup.paperSize = "landscape", "9"   # 9: A4
    setup.fitToWidth, setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins.left = sheet.page_margins.right = MARGIN_IN



