"""A HID keyboard-wedge scanner under /dev/input: a thin transport around KeyDecoder.

The device is grabbed (EVIOCGRAB) so codes do not leak to a console. Removal raises
OSError (ENODEV): one fault, then the node is reopened until the scanner is back.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable

from evdev import InputDevice

from drivers.hid_keys import KeyDecoder
from drivers.reconnecting import ReconnectingDevice

QUIET_S = 0.3  # a code with no Enter is complete after this much silence


class EvdevScanner(ReconnectingDevice):
    name = "scanner"

    def __init__(self, device: str, *, on_code: Callable[[str], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None],
                 reopen_s: float = 1.0) -> None:
        super().__init__(device, on_fault, on_recovered, reopen_s)
        self.device, self.on_code = device, on_code

    def _session(self) -> None:
        dev = InputDevice(self.device)
        try:
            dev.grab()
            self._ready()
            self._read(dev)
        finally:
            dev.close()

    def _describe(self, exc: BaseException) -> str:
        hint = (" (is the service user in group 'input'?)"
                if getattr(exc, "errno", None) == 13 else "")
        return f"{self.device}: {getattr(exc, 'strerror', None) or exc}{hint}"

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
