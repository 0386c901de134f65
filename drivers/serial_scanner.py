"""A USB-CDC barcode scanner on a serial port: a thin transport around LineFramer.

Opens the port exclusively with timeouts; ReconnectingDevice reports an unplug once
and reopens the port until it is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from drivers.lines import LineFramer
from drivers.reconnecting import ReconnectingDevice

QUIET_S = 0.3  # a code with no terminator is complete after this much silence


class SerialScanner(ReconnectingDevice):
    name = "scanner"

    def __init__(self, port: str, baudrate: int, *, on_code: Callable[[str], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None],
                 reopen_s: float = 1.0) -> None:
        super().__init__(port, on_fault, on_recovered, reopen_s)
        self.port, self.baudrate, self.on_code = port, baudrate, on_code

    def _session(self) -> None:
        with serial.serial_for_url(self.port, self.baudrate, timeout=0.05, write_timeout=1,
                                   exclusive=True) as port:
            self._ready()
            self._read(port)

    def _read(self, port: serial.Serial) -> None:
        framer = LineFramer()
        last_byte = time.monotonic()
        while not self._stop.is_set():
            data = port.read(port.in_waiting or 1)
            now = time.monotonic()
            if data:
                last_byte = now
                for code in framer.data_received(data):
                    self.on_code(code)
            elif framer.partial and now - last_byte >= QUIET_S:
                for code in framer.flush():
                    self.on_code(code)
