"""Where things go on a label, in dots, for any printer language."""

from __future__ import annotations

import msgspec

from drivers.printer import code128
from drivers.printer.job import LabelJob, PrinterFault

MARGIN = 16
BARCODE_H = 64
LINE_H = 28
FONT_DOTS = 24


class LabelSize(msgspec.Struct, frozen=True):
    width_mm: int = 40
    height_mm: int = 30
    gap_mm: int = 2
    dpi: int = 203
    min_bar_dots: int = 0  # the narrowest bar this printer prints reliably; 0: by dpi

    @property
    def narrowest(self) -> int:
        """Below 0.25 mm a bar scans poorly from a cheap thermal head: 2 dots at 203 dpi."""
        return self.min_bar_dots or (3 if self.dpi >= 300 else 2)

    @property
    def dots_per_mm(self) -> int:
        return 12 if self.dpi >= 300 else 8

    @property
    def width(self) -> int:
        return self.width_mm * self.dots_per_mm

    @property
    def height(self) -> int:
        return self.height_mm * self.dots_per_mm


class BarcodeTooWide(PrinterFault, ValueError):
    """A barcode that cannot fit the label at the printer's narrowest reliable bar."""


class Placement(msgspec.Struct, frozen=True):
    """Where a Code 128 barcode goes: its left edge and module width, in dots."""

    x: int
    module: int
    modules: int  # start code to stop bar, quiet zones excluded

    @property
    def width(self) -> int:
        return self.modules * self.module


def place_barcode(text: str, size: LabelSize) -> Placement:
    """The widest module (up to twice the narrowest) that fits the label with both quiet
    zones, centred; BarcodeTooWide when even the narrowest does not fit."""
    modules = code128.width(text)
    span = modules + 2 * code128.QUIET_ZONE
    module = min(size.width // span, 2 * size.narrowest)
    if module < size.narrowest:
        raise BarcodeTooWide(
            f"barcode {text!r} needs {span * size.narrowest} dots ({modules} modules and two "
            f"{code128.QUIET_ZONE}-module quiet zones at {size.narrowest} dots a module); a "
            f"{size.width_mm} mm label at {size.dpi} dpi is {size.width} dots wide")
    return Placement((size.width - modules * module) // 2, module, modules)


class Page(msgspec.Struct, frozen=True):
    barcode: str                       # "" on continuation pages
    lines: tuple[tuple[int, str], ...]  # (y, text)
    placement: Placement | None = None  # where the barcode goes, when there is one


def pages(job: LabelJob, size: LabelSize) -> list[Page]:
    """The barcode on the first page; lines flow onto more labels when they do not fit.
    Raises BarcodeTooWide rather than print a barcode clipped or without quiet zones."""
    placement = place_barcode(job.barcode, size) if job.barcode else None
    first_y = MARGIN + BARCODE_H + FONT_DOTS + 8 if job.barcode else MARGIN
    out: list[Page] = []
    y, barcode = first_y, job.barcode
    current: list[tuple[int, str]] = []
    for text in job.lines:
        if y + FONT_DOTS > size.height - MARGIN // 2 and current:
            out.append(Page(barcode, tuple(current), placement))
            y, barcode, current, placement = MARGIN, "", [], None
        current.append((y, text))
        y += LINE_H
    out.append(Page(barcode, tuple(current), placement))
    return out
