"""A USB-CDC barcode scanner on a serial port: a thin transport around LineFramer.

Opens the port exclusively with timeouts; ReconnectingDevice reports an unplug once
and reopens the port until it is back.
"""

from __future__ import annotations

from collections.abc import Callable

import serial

from drivers.scanner.code_scanner import CodeScanner
from drivers.scanner.lines import LineFramer


class SerialScanner(CodeScanner):
    def __init__(self, port: str, baudrate: int, *, on_code: Callable[[str], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None],
                 reopen_s: float = 1.0) -> None:
        super().__init__(port, on_code, on_fault, on_recovered, reopen_s)
        self.port, self.baudrate = port, baudrate

    def _session(self) -> None:
        with serial.serial_for_url(self.port, self.baudrate, timeout=0.05, write_timeout=1,
                                   exclusive=True) as port:
            self._ready()
            self._read(port)

    def _read(self, port: serial.Serial) -> None:
        framer = LineFramer()

        def poll() -> list[str] | None:
            data = port.read(port.in_waiting or 1)
            return framer.data_received(data) if data else None

        self._pump(poll, lambda: framer.partial, framer.flush)
