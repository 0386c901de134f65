"""TSPL (TSC, Gprinter, Xprinter): a pure command builder and status parser.

Text goes to the built-in Simplified Chinese font TSS24.BF2, so the whole command
stream is encoded GB18030 (ASCII-compatible, a superset of GBK).
"""

from __future__ import annotations

from drivers.printer.job import LabelJob
from drivers.printer.layout import BARCODE_H, MARGIN, LabelSize, pages
from drivers.printer.status import Problem, ProblemKind, stranger

STATUS_QUERY = b"\x1b!?"
# `ESC ! ?` answers one byte; bit n set means STATUS_BITS[n]. None: not a fault.
STATUS_BITS: tuple[tuple[str, ProblemKind | None], ...] = (
    ("head open", "head_open"), ("paper jam", "paper_jam"), ("out of paper", "paper_out"),
    ("out of ribbon", "ribbon_out"), ("paused", "other"), ("printing", None),
    ("cover open", "head_open"), ("printer error", "other"))


def quote(text: str) -> str:
    return '"' + text.replace('"', '\\["]') + '"'


def render(job: LabelJob, size: LabelSize) -> bytes:
    commands = [f"SIZE {size.width_mm} mm,{size.height_mm} mm", f"GAP {size.gap_mm} mm,0 mm",
                "DIRECTION 1"]
    for page in pages(job, size):
        commands.append("CLS")
        if page.placement:
            at = page.placement
            commands.append(f'BARCODE {at.x},{MARGIN},"128",{BARCODE_H},1,0,{at.module},'
                            f"{at.module},{quote(page.barcode)}")
        for y, text in page.lines:
            commands.append(f'TEXT {MARGIN},{y},"TSS24.BF2",0,1,1,{quote(text)}')
        commands.append("PRINT 1,1")
    return ("\r\n".join(commands) + "\r\n").encode("gb18030")


# A TSPL printer answers each status query with one byte, and any byte is a status (all
# eight bits have a meaning). A few at once are answers to earlier queries that timed out
# on a serial or USB line (the newest last); more is something else that listens there.
LONGEST_ANSWER = 4


def parse_status(data: bytes) -> list[Problem] | None:
    """One status byte → the problems it reports ([] = ready); None until it arrives."""
    if not data:
        return None
    if len(data) > LONGEST_ANSWER:   # a web page, a banner: no printer's status bytes
        raise stranger(data, "a TSPL printer's one status byte")
    byte = data[-1]   # the bytes before it: answers to queries that timed out
    return [Problem(kind, name) for bit, (name, kind) in enumerate(STATUS_BITS)
            if byte & (1 << bit) and kind is not None]
