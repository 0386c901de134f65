"""A HID keyboard-wedge scanner under /dev/input: a thin transport around KeyDecoder.

The device is grabbed (EVIOCGRAB) so codes do not leak to a console. Removal raises
OSError (ENODEV): one fault, then the node is reopened until the scanner is back.
"""

from __future__ import annotations

import select
from collections.abc import Callable

from evdev import InputDevice

from drivers.common.input_device import describe, grabbed
from drivers.scanner.code_scanner import CodeScanner
from drivers.scanner.hid_keys import KeyDecoder


class EvdevScanner(CodeScanner):
    def __init__(self, device: str, *, on_code: Callable[[str], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None],
                 reopen_s: float = 1.0) -> None:
        super().__init__(device, on_code, on_fault, on_recovered, reopen_s)
        self.device = device

    def _session(self) -> None:
        with grabbed(self.device) as dev:
            self._ready()
            self._read(dev)

    def _describe(self, exc: BaseException) -> str:
        return describe(self.device, exc)

    def _read(self, dev: InputDevice[str]) -> None:
        decoder = KeyDecoder()

        def poll() -> list[str] | None:
            ready, _, _ = select.select([dev.fd], [], [], 0.05)
            if not ready:
                return None
            codes = (decoder.feed(event.type, event.code, event.value) for event in dev.read())
            return [code for code in codes if code is not None]

        def flush() -> list[str]:
            code = decoder.flush()
            return [] if code is None else [code]

        self._pump(poll, lambda: decoder.partial, flush)
