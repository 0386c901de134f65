"""A HID keyboard-wedge scanner under /dev/input: a thin transport around KeyDecoder.

The device is grabbed (EVIOCGRAB) so codes do not leak to a console. Removal raises
OSError (ENODEV): one fault, then the node is reopened until the scanner is back.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable

from evdev import InputDevice

from drivers.hid_keys import KeyDecoder

QUIET_S = 0.3  # a code with no Enter is complete after this much silence


class EvdevScanner:
    def __init__(self, device: str, *, on_code: Callable[[str], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None],
                 reopen_s: float = 1.0) -> None:
        self.device = device
        self.on_code, self.on_fault, self.on_recovered = on_code, on_fault, on_recovered
        self.reopen_s = reopen_s
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._faulted = False
        self._thread = threading.Thread(target=self._run, name="scanner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                dev = InputDevice(self.device)
                try:
                    dev.grab()
                    if self._faulted:
                        self._faulted = False
                        self.on_recovered()
                    self.opened.set()
                    self._read(dev)
                finally:
                    dev.close()
            except OSError as exc:
                self.opened.clear()
                if not self._faulted:
                    self._faulted = True
                    self.on_fault(f"{self.device}: {exc.strerror or exc}"
                                  + (" (is the service user in group 'input'?)"
                                     if exc.errno == 13 else ""))
                self._stop.wait(self.reopen_s)

    def _read(self, dev: InputDevice[str]) -> None:
        decoder = KeyDecoder()
        last = time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([dev.fd], [], [], 0.05)
            now = time.monotonic()
            if not ready:
                if decoder.partial and now - last >= QUIET_S:
                    self._emit(decoder.flush())
                continue
            last = now
            for event in dev.read():
                self._emit(decoder.feed(event.type, event.code, event.value))

    def _emit(self, code: str | None) -> None:
        if code is not None:
            self.on_code(code)
