"""Labels as PNG images: what the printer will print, for technicians and the emulator.

Same layout as TSPL and ZPL (drivers/printer/layout.py): the barcode at the same place
and module width, drawn from the same Code 128 modules; text in a CJK font so names
show as they will on the label.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from drivers.labels import LabelJob
from drivers.printer import code128
from drivers.printer.layout import BARCODE_H, FONT_DOTS, MARGIN, LabelSize, pages

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


class NoCjkFont(RuntimeError):
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
