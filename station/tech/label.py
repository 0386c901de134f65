"""`station label preview|print KIND`: see any label as PNG, or print the command sheet."""

from __future__ import annotations

import sys
from pathlib import Path

from msgspec.structs import replace

from drivers.errors import DriverError
from drivers.printer import code128
from drivers.printer.job import LabelJob
from drivers.printer.layout import LabelSize
from drivers.printer.png import save, save_sheets, sheets
from station.config import Config, load, parse
from station.core import minting
from station.core.errors import StationError
from station.core.identity import mask_id, mask_name
from station.core.labels import command_labels, print_job
from station.core.messages import HandoverSlip, TubeLabel
from station.devices import build_printer
from station.exit_status import OK, Usage, failed

# Labels hold no personal data to seal: a preview needs no central key.
EXAMPLE = ('[station]\nid = "lane-01"\nsite = "site-001"\ntube_prefix = "110101"\n'
           '[privacy]\nseal = false\n')


def sample_jobs(kind: str, config: Config) -> list[LabelJob]:
    """Labels of each kind with made-up content, as the station would print them."""
    s = config.station
    when = "11-22 08:00"
    # The longest ids this config mints: what must fit is the widest it will print.
    tube = minting.longest_tube_id(s.tube_prefix or "T")
    if kind == "tube":
        return [print_job(TubeLabel(tube, s.pool_size), s.site, s.id, when)]
    if kind == "single":
        person = f"{mask_name('张三丰')} {mask_id('11010519491231002X')}"
        return [print_job(TubeLabel(tube, 1, person), s.site, s.id, when)]
    if kind == "handover":
        tubes = tuple(minting.tube_id(s.tube_prefix or "T", n) for n in range(1, 9))
        box = minting.longest_box_id(s.tube_prefix, s.id)
        return [print_job(HandoverSlip(box, tubes, 8 * s.pool_size), s.site, s.id, when)]
    return command_labels()


FORM_LINES = ("核酸采集信息卡", "姓名__________", "证件号码______________", "电话______________")


def form_jobs(config: Config, first: int, count: int) -> list[LabelJob]:
    """Numbered paper information cards: the serial as a barcode, lines to fill in by hand.
    Raises Usage (a ValueError) when the serials would not scan as forms at this station."""
    serials = [f"FORM-{n:06d}" for n in range(first, first + count)]
    pattern = config.station.form_pattern
    if not 1 <= first <= 999_999 - count + 1 or count < 1:
        raise Usage("--from and --count: serials run from FORM-000001 to FORM-999999")
    if not pattern.fullmatch(serials[0]):
        raise Usage(f"{config.source}: [station] form_pattern {pattern.pattern!r} does "
                    f"not match {serials[0]}: the station would not read these cards")
    return [LabelJob("form", serial, FORM_LINES) for serial in serials]


def label_command(action: str, kind: str, config_path: str | None, out: str,
                  font: str, *, forms: tuple[int, int] = (1, 24)) -> int:
    try:
        config = load(config_path) if config_path else parse(EXAMPLE, "example")
        jobs = form_jobs(config, *forms) if kind == "form" else []
        if action == "print" and kind not in ("form", "commands"):
            raise Usage("only the command sheet is printed from here; the station prints "
                        "the rest")
    except StationError as exc:   # ConfigError: its problems, one a line
        return failed(exc)
    if kind == "form":
        return preview_forms(jobs, config, Path(out), font) if action == "preview" \
            else print_jobs(config, jobs, "information cards", "form")
    if action == "preview":
        return preview(sample_jobs(kind, config), config, kind, Path(out), font)
    return print_commands(config)


def preview(jobs: list[LabelJob], config: Config, kind: str, out: Path, font: str) -> int:
    size = config.printer.size
    if kind == "commands":
        # The command sheet is for an office printer as much as for the label printer:
        # its previews are as wide as the longest command needs, and say so.
        wide = max(fitting_width_mm(job.barcode, size) for job in jobs)
        if wide > size.width_mm:
            print(f"command labels need {wide} mm at {size.dpi} dpi: previews are that wide",
                  file=sys.stderr)
            size = replace(size, width_mm=wide)
    try:
        for number, job in enumerate(jobs, start=1):
            for path in save(job, size, out, f"{kind}-{number}", font):
                print(path)
    except DriverError as exc:   # NoCjkFont, BarcodeTooWide
        return failed(exc)
    return OK


def fitting_width_mm(barcode: str, size: LabelSize) -> int:
    """The narrowest whole-mm label width that holds this barcode at the narrowest bar."""
    dots = (code128.width(barcode) + 2 * code128.QUIET_ZONE) * size.narrowest
    return max(size.width_mm, -(-dots // size.dots_per_mm))


def preview_forms(jobs: list[LabelJob], config: Config, out: Path, font: str) -> int:
    """Each card as the label printer prints it, and A4 sheets (PNG and PDF) of them."""
    size = config.printer.size
    try:
        for job in jobs:
            for path in save(job, size, out, job.barcode.lower(), font):
                print(path)
        for path in save_sheets(sheets(jobs, size, font), out, "form-sheet", size.dpi):
            print(path)
    except DriverError as exc:   # NoCjkFont, BarcodeTooWide
        return failed(exc)
    return OK


def print_commands(config: Config) -> int:
    return print_jobs(config, command_labels(), "command labels", "commands")


def print_jobs(config: Config, jobs: list[LabelJob], what: str, kind: str) -> int:
    p = config.printer
    printer, sim = build_printer(p)
    if printer is None or sim is not None:
        return failed(StationError(f"[printer] driver = {p.driver!r}: nothing to print on"))
    wide = max(fitting_width_mm(job.barcode, p.size) for job in jobs)
    if wide > p.width_mm:
        return failed(StationError(
            f"the {what} need {wide} mm labels at {p.dpi} dpi, the printer has "
            f"{p.width_mm} mm: print `station label preview {kind}` on an office printer "
            "instead, or load wider labels"))
    try:
        for job in jobs:
            printer.print(job)
    except DriverError as exc:   # PrinterFault: paper out, head open, no answer
        return failed(exc, "printer")
    print(f"printed {len(jobs)} {what} on {p.uri}")
    return OK
