"""The [scanner] section: a USB-CDC (serial) or HID (evdev) scanner, or the emulator."""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from drivers.common.config_section import Section, in_range, one_of

ScannerDriver = Literal["sim", "serial", "evdev"]


class ScannerConfig(msgspec.Struct, frozen=True):
    driver: ScannerDriver = "sim"
    port: str = ""        # serial: best a stable name from /dev/serial/by-id/
    baudrate: int = 9600  # serial: most USB-CDC scanners ignore it
    device: str = ""      # evdev: /dev/input/by-id/…-event-kbd


def read(section: Section) -> ScannerConfig:
    d = ScannerConfig()
    config = ScannerConfig(
        driver=section.get("driver", str, d.driver, one_of(*get_args(ScannerDriver))),
        port=section.get("port", str, d.port),
        baudrate=section.get("baudrate", int, d.baudrate, in_range(1200, 921600)),
        device=section.get("device", str, d.device),
    )
    if config.driver == "evdev" and not config.device:
        section.problem("device", "is required with driver = 'evdev' "
                                  "(e.g. '/dev/input/by-id/usb-…-event-kbd')")
    if config.driver == "serial" and not config.port:
        section.problem("port", "is required with driver = 'serial' "
                                "(best a stable name from /dev/serial/by-id/)")
    return config
