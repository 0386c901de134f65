"""A USB-CDC barcode scanner on a serial port: a thin transport around LineFramer.

Opens the port exclusively with timeouts; on unplug (SerialException/OSError) reports
a fault once, closes, and reopens until the port is back.
"""

from __future__ import annotations

import logging
import termios
import threading
import time
from collections.abc import Callable

import serial

from drivers.lines import LineFramer

log = logging.getLogger("drivers.scanner")

QUIET_S = 0.3  # a code with no terminator is complete after this much silence


class SerialScanner:
    def __init__(self, port: str, baudrate: int, *, on_code: Callable[[str], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None],
                 reopen_s: float = 1.0) -> None:
        self.port, self.baudrate = port, baudrate
        self.on_code, self.on_fault, self.on_recovered = on_code, on_fault, on_recovered
        self.reopen_s = reopen_s
        self._stop = threading.Event()
        self._faulted = False
        self._thread = threading.Thread(target=self._run, name="scanner", daemon=True)
        self.opened = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _open(self) -> serial.Serial:
        return serial.serial_for_url(self.port, self.baudrate, timeout=0.05,
                                     write_timeout=1, exclusive=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._open() as port:
                    if self._faulted:
                        self._faulted = False
                        self.on_recovered()
                    self.opened.set()
                    self._read(port)
            except (serial.SerialException, OSError, termios.error) as exc:  # see SamReader
                self.opened.clear()
                if not self._faulted:
                    self._faulted = True
                    self.on_fault(f"{self.port}: {exc}")
                self._stop.wait(self.reopen_s)

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
