"""The [printer] section: language, where it is, and the label it is loaded with."""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from drivers.common.config_section import Section, in_range, one_of
from drivers.printer.layout import LabelSize
from drivers.printer.uri import check_uri

# sim: a TSPL printer emulator; none: no printer at this lane.
PrinterDriver = Literal["sim", "tspl", "zpl", "none"]


class PrinterConfig(msgspec.Struct, frozen=True):
    driver: PrinterDriver = "sim"
    uri: str = ""       # tcp://host:9100, file:///dev/usb/lp0, serial:///dev/ttyUSB1?baud=9600
    width_mm: int = 40
    height_mm: int = 30
    gap_mm: int = 2
    dpi: int = 203
    font: str = "0"     # ZPL: a CJK font on the printer, e.g. "E:SIMSUN.TTF"
    min_bar_dots: int = 0  # the narrowest bar it prints reliably; 0: 2 at 203 dpi, 3 at 300

    @property
    def size(self) -> LabelSize:
        return LabelSize(self.width_mm, self.height_mm, self.gap_mm, self.dpi,
                         self.min_bar_dots)


def read(section: Section) -> PrinterConfig:
    d = PrinterConfig()
    config = PrinterConfig(
        driver=section.get("driver", str, d.driver, one_of(*get_args(PrinterDriver))),
        uri=section.get("uri", str, d.uri, check_uri),
        width_mm=section.get("width_mm", int, d.width_mm, in_range(10, 120)),
        height_mm=section.get("height_mm", int, d.height_mm, in_range(10, 300)),
        gap_mm=section.get("gap_mm", int, d.gap_mm, in_range(0, 20)),
        dpi=section.get("dpi", int, d.dpi, one_of(203, 300)),
        font=section.get("font", str, d.font),
        min_bar_dots=section.get("min_bar_dots", int, d.min_bar_dots, in_range(0, 10)),
    )
    if config.driver in ("tspl", "zpl") and not config.uri:
        section.problem("uri", f"is required with driver = '{config.driver}' "
                               "(e.g. 'tcp://192.168.1.50:9100' or 'file:///dev/usb/lp0')")
    return config
