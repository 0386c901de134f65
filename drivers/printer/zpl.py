"""ZPL (Zebra): a pure command builder and ~HS status parser.

^CI28 selects UTF-8; Chinese needs a CJK font on the printer, named in the config
(e.g. E:SIMSUN.TTF). While media or ribbon is out, the head is open or over temperature
a Zebra does not answer ~HS at all (Zebra's ZPL guide, ~HS): the caller treats no answer
as a fault of its own kind, since it cannot tell which. ~HS has no paper-jam flag.
"""

from __future__ import annotations

from drivers.printer.job import LabelJob
from drivers.printer.layout import BARCODE_H, FONT_DOTS, MARGIN, LabelSize, pages
from drivers.printer.status import Problem, ProblemKind, stranger

STATUS_QUERY = b"~HS"


def field_data(text: str) -> str:
    # ^FH\ turns on hex escapes with "\" as the marker: ^, ~ and \ cannot break out.
    escaped = text.replace("\\", "\\5C").replace("^", "\\5E").replace("~", "\\7E")
    return f"^FH\\^FD{escaped}^FS"


def render(job: LabelJob, size: LabelSize, font: str = "0") -> bytes:
    out: list[str] = []
    select_font = f"^A0N,{FONT_DOTS},{FONT_DOTS}" if font == "0" else \
        f"^A@N,{FONT_DOTS},{FONT_DOTS},{font}"
    for page in pages(job, size):
        out += ["^XA", "^CI28", f"^PW{size.width}", f"^LL{size.height}"]
        if page.placement:
            # ^BY: the module width; ^BC mode A: the printer picks the shortest sets.
            at = page.placement
            out.append(f"^BY{at.module}^FO{at.x},{MARGIN}^BCN,{BARCODE_H},Y,N,N,A"
                       + field_data(page.barcode))
        for y, text in page.lines:
            out.append(f"^FO{MARGIN},{y}{select_font}" + field_data(text))
        out.append("^XZ")
    return "\n".join(out).encode("utf-8")


# (string, field, what the printer says, its kind): string 1 then string 2 of ~HS.
STATUS_FLAGS: tuple[tuple[int, int, str, ProblemKind], ...] = (
    (0, 1, "out of paper", "paper_out"), (0, 2, "paused", "other"),
    (0, 5, "buffer full", "other"), (0, 10, "under temperature", "other"),
    (0, 11, "over temperature", "other"), (1, 2, "head open", "head_open"),
    (1, 3, "out of ribbon", "ribbon_out"))


def parse_status(data: bytes) -> list[Problem] | None:
    """The three ~HS strings → problems ([] = ready); None until all three arrived."""
    if data.strip() and not data.lstrip().startswith(b"\x02"):   # ~HS strings open with STX
        raise stranger(data, "a Zebra's ~HS status")
    strings = [part.split(b"\x03")[0].decode("ascii", "replace")
               for part in data.split(b"\x02")[1:]]
    if len(strings) < 3 or not data.rstrip().endswith(b"\x03"):
        return None
    fields = (strings[0].split(","), strings[1].split(","))
    return [Problem(kind, name) for string, index, name, kind in STATUS_FLAGS
            if len(fields[string]) > index and fields[string][index].strip() == "1"]
