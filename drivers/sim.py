"""Simulated devices: they keep a history and can fail, so a station runs with no hardware.

The scanner simulator is a real pty: the station reads it with the real SerialScanner,
so the sim exercises the same framing and transport code as a USB-CDC scanner.
"""

from __future__ import annotations

import contextlib
import os
import time
import tty
from dataclasses import dataclass, field

from drivers.labels import LabelJob, PrinterFault


class ScannerSim:
    """The scanner's side of a pty pair: `scan()` writes a code and its CR LF."""

    def __init__(self, suffix: bytes = b"\r\n") -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR→LF translation: the bytes as sent
        self.port = os.ttyname(self._slave)
        self.suffix = suffix
        self.history: list[str] = []

    def scan(self, code: str) -> None:
        self.history.append(code)
        os.write(self.master, code.encode("utf-8") + self.suffix)

    def send_raw(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@dataclass
class SimPrinter:
    """Prints into `history`; `paper_out` makes jobs fail as a real printer's would."""

    paper_out: bool = False
    history: list[LabelJob] = field(default_factory=list)

    def print(self, job: LabelJob) -> None:
        if self.paper_out:
            raise PrinterFault("paper out")
        self.history.append(job)


@dataclass
class SimLights:
    """Remembers every pattern shown, with when, as a tester watching the tower would."""

    history: list[tuple[float, str]] = field(default_factory=list)

    def show(self, pattern: str) -> None:
        self.history.append((time.monotonic(), pattern))

    @property
    def current(self) -> str:
        return self.history[-1][1] if self.history else "off"

    def off(self) -> None:
        self.show("off")
