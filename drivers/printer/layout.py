"""Where things go on a label, in dots, for any printer language."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.labels import LabelJob

MARGIN = 16
BARCODE_H = 64
LINE_H = 28
FONT_DOTS = 24


@dataclass(frozen=True, slots=True)
class LabelSize:
    width_mm: int = 40
    height_mm: int = 30
    gap_mm: int = 2
    dpi: int = 203

    @property
    def dots_per_mm(self) -> int:
        return 12 if self.dpi >= 300 else 8

    @property
    def width(self) -> int:
        return self.width_mm * self.dots_per_mm

    @property
    def height(self) -> int:
        return self.height_mm * self.dots_per_mm


@dataclass(frozen=True, slots=True)
class Page:
    barcode: str                       # "" on continuation pages
    lines: tuple[tuple[int, str], ...]  # (y, text)


def pages(job: LabelJob, size: LabelSize) -> list[Page]:
    """The barcode on the first page; lines flow onto more labels when they do not fit."""
    first_y = MARGIN + BARCODE_H + FONT_DOTS + 8 if job.barcode else MARGIN
    out: list[Page] = []
    y, barcode = first_y, job.barcode
    current: list[tuple[int, str]] = []
    for text in job.lines:
        if y + FONT_DOTS > size.height - MARGIN // 2 and current:
            out.append(Page(barcode, tuple(current)))
            y, barcode, current = MARGIN, "", []
        current.append((y, text))
        y += LINE_H
    out.append(Page(barcode, tuple(current)))
    return out
