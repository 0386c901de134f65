"""One thread per device that opens it, works it until it fails, reports the fault
once, and reopens it until it is back: unplugging must never end a driver."""

from __future__ import annotations

import termios
import threading
from collections.abc import Callable

import serial

from drivers.common.fault_latch import FaultLatch

# termios.error is not an OSError: an unplugged USB-serial raises it from tcflush.
DEVICE_ERRORS: tuple[type[BaseException], ...] = (OSError, termios.error,
                                                  serial.SerialException)


class ReconnectingDevice:
    name = "device"
    errors: tuple[type[BaseException], ...] = DEVICE_ERRORS

    def __init__(self, where: str, on_fault: Callable[[str], None],
                 on_recovered: Callable[[], None], reopen_s: float) -> None:
        self.where = where
        self.health = FaultLatch(on_fault, on_recovered)
        self.reopen_s = reopen_s
        self.opened = threading.Event()
        # Set once the first attempt to open has ended, either way: the station's start
        # waits on this, so a missing device holds it back by one failed open, not by
        # the whole wait.
        self.tried = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)

    def _session(self) -> None:
        """Open the device, call self._ready(), work it until an error or stop()."""
        raise NotImplementedError

    def _ready(self) -> None:
        self.health.ok()
        self.opened.set()
        self.tried.set()

    def _describe(self, exc: BaseException) -> str:
        return f"{self.where}: {exc}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except self.errors as exc:
                self.opened.clear()
                self.health.fault(self._describe(exc))
                self.tried.set()
                self._stop.wait(self.reopen_s)
