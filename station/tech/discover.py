"""`station devices`: what is plugged in, under which stable names, and a config to start.

Probing sends real protocol bytes: a SAM-id request to a serial port (harmless to
other devices) and a status query to a printer. Nothing is probed unless asked.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import serial
from serial.tools import list_ports

from drivers.printer.job import PrinterFault
from drivers.printer.layout import LabelSize
from drivers.printer.printer import LabelPrinter, language
from drivers.printer.status import describe
from drivers.sam import protocol as sam

BY_ID_SERIAL = Path("/dev/serial/by-id")
BY_ID_INPUT = Path("/dev/input/by-id")


class Port(msgspec.Struct, frozen=True):
    device: str
    stable: str          # a /dev/serial/by-id name, or "" when none
    description: str
    vid_pid: str         # "10c4:ea60", or "" when not USB


def stable_names(folder: Path) -> dict[str, str]:
    """target device → its stable symlink."""
    if not folder.is_dir():
        return {}
    return {str(link.resolve()): str(link) for link in sorted(folder.iterdir())}


def serial_ports() -> list[Port]:
    stable = stable_names(BY_ID_SERIAL)
    ports = []
    for info in list_ports.comports():
        vid_pid = f"{info.vid:04x}:{info.pid:04x}" if info.vid is not None else ""
        ports.append(Port(info.device, stable.get(info.device, ""), info.description or "",
                          vid_pid))
    return ports


def keyboards() -> list[str]:
    """Keyboard-like input devices by stable name: where HID scanners appear."""
    return [str(p) for p in sorted(BY_ID_INPUT.glob("*-event-kbd"))] \
        if BY_ID_INPUT.is_dir() else []


def probe_sam(port: str, baudrate: int = 115200, timeout: float = 1.0) -> str:
    """The SAM id of a reader on this port; raises OSError or TimeoutError."""
    parser = sam.FrameParser()
    with serial.Serial(port, baudrate, timeout=0.05, write_timeout=1) as link:
        link.reset_input_buffer()
        link.write(sam.command(sam.SAM_ID))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in parser.data_received(link.read(link.in_waiting or 1)):
                if isinstance(item, sam.Frame):
                    if item.sw3 != sam.OK:
                        raise OSError(f"SAM answered: {sam.describe(item.sw3)}")
                    return item.data.hex()
    raise TimeoutError(f"no SAM answer on {port} at {baudrate} baud")


def probe_printer(uri: str, lang: str) -> str:
    try:
        problems = LabelPrinter(language(lang), uri, LabelSize()).status()
    except PrinterFault as exc:   # its text names the URI, which the caller says already
        return f"not ready: {str(exc).removeprefix(f'{uri}: ')}"
    return "ready" if not problems else "not ready: " + describe(problems)


def report(probe_sam_ports: list[str], printers: list[tuple[str, str]]) -> str:
    lines = ["Serial ports:"]
    ports = serial_ports()
    lines += [f"  {p.device:<14} {p.vid_pid:<10} {p.description}"
              + (f"\n  {'':<14} stable: {p.stable}" if p.stable else "") for p in ports] \
        or ["  (none)"]
    lines.append("Keyboard-like input devices (HID scanners):")
    lines += [f"  {k}" for k in keyboards()] or ["  (none)"]
    snippet: list[str] = []
    for port in probe_sam_ports:
        try:
            sam_id = probe_sam(port)
        except (OSError, TimeoutError, serial.SerialException) as exc:
            lines.append(f"SAM reader on {port}: no ({exc})")
            continue
        lines.append(f"SAM reader on {port}: yes, SAM id {sam_id}")
        snippet += ["[card_reader]", 'driver = "sam"', f'port = "{port}"']
    for uri, lang in printers:
        status = probe_printer(uri, lang)
        lines.append(f"{lang.upper()} printer at {uri}: {status}")
        snippet += ["[printer]", f'driver = "{lang}"', f'uri = "{uri}"']
    for kbd in keyboards()[:1]:
        snippet += ["[scanner]", 'driver = "evdev"', f'device = "{kbd}"']
    if snippet:
        lines += ["", "Config to start from (check it with station check-config):", *snippet]
    usb = [p for p in ports if p.vid_pid]
    if usb:
        lines += ["", "udev rules for stable names (see config/99-natest-station.rules):"]
        for p in usb:
            vid, pid = p.vid_pid.split(":")
            lines.append(f'SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{vid}", '
                         f'ATTRS{{idProduct}}=="{pid}", SYMLINK+="natest-NAME", '
                         'GROUP="dialout", MODE="0660", ENV{ID_MM_DEVICE_IGNORE}="1"')
    return "\n".join(lines)
