"""Labels as PNG images: what the printer will print, for technicians and the emulator.

Same layout as TSPL and ZPL (drivers/printer/layout.py): the barcode at the same place
and module width, drawn from the same Code 128 modules; text in a CJK font so names
show as they will on the label.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from drivers.errors import DriverError
from drivers.printer import code128
from drivers.printer.job import LabelJob
from drivers.printer.layout import BARCODE_H, FONT_DOTS, MARGIN, LabelSize, pages

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


class NoCjkFont(DriverError, RuntimeError):
    pass


def find_font(explicit: str = "") -> str:
    for candidate in ((explicit,) if explicit else FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    raise NoCjkFont("no font with Chinese found (Debian: apt-get install fonts-wqy-microhei, "
                    "or pass --font FILE)")


def render(job: LabelJob, size: LabelSize, font_path: str = "") -> list[Image.Image]:
    font = ImageFont.truetype(find_font(font_path), FONT_DOTS)
    images = []
    for page in pages(job, size):
        image = Image.new("1", (size.width, size.height), 1)
        draw = ImageDraw.Draw(image)
        if page.placement:
            at = page.placement
            for i, bar in enumerate(code128.modules(page.barcode)):
                if bar == "1":
                    x = at.x + i * at.module
                    draw.rectangle((x, MARGIN, x + at.module - 1, MARGIN + BARCODE_H - 1),
                                   fill=0)
            # The human-readable line, centred under the bars as the printers put it.
            text_x = at.x + (at.width - draw.textlength(page.barcode, font=font)) / 2
            draw.text((text_x, MARGIN + BARCODE_H + 2), page.barcode, font=font, fill=0)
        for y, text in page.lines:
            draw.text((MARGIN, y), text, font=font, fill=0)
        images.append(image)
    return images


def save(job: LabelJob, size: LabelSize, folder: Path, stem: str,
         font_path: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, image in enumerate(render(job, size, font_path), start=1):
        path = folder / f"{stem}-{number}.png"
        image.save(path)
        paths.append(path)
    return paths


A4_MM = (210, 297)
SHEET_MARGIN_MM = 10


def sheets(jobs: list[LabelJob], size: LabelSize, font_path: str = "") -> list[Image.Image]:
    """The labels of `jobs` laid out on A4 pages at the label's resolution, for an office
    printer: as many per page as fit, in order, each at its real size."""
    per_mm = size.dots_per_mm
    page_w, page_h = (mm * per_mm for mm in A4_MM)
    margin, gap = SHEET_MARGIN_MM * per_mm, 2 * per_mm
    cols = max(1, (page_w - 2 * margin + gap) // (size.width + gap))
    rows = max(1, (page_h - 2 * margin + gap) // (size.height + gap))
    labels = [image for job in jobs for image in render(job, size, font_path)]
    pages = []
    for first in range(0, len(labels), cols * rows):
        page = Image.new("1", (page_w, page_h), 1)
        for n, label in enumerate(labels[first:first + cols * rows]):
            row, col = divmod(n, cols)
            page.paste(label, (margin + col * (size.width + gap),
                               margin + row * (size.height + gap)))
        pages.append(page)
    return pages


def save_sheets(pages: list[Image.Image], folder: Path, stem: str, dpi: int) -> list[Path]:
    """Each page as PNG, and all of them in one PDF to print."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, page in enumerate(pages, start=1):
        path = folder / f"{stem}-{number}.png"
        page.save(path, dpi=(dpi, dpi))
        paths.append(path)
    pdf = folder / f"{stem}.pdf"
    pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=dpi)
    return [*paths, pdf]
