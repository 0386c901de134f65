"""What every barcode scanner shares, whatever its transport: codes are handed on as
they complete, and a code that never got its terminator (a scanner set to send none, a
lost Enter) is complete after QUIET_S of silence, so it is neither lost nor glued to the
next scan."""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.common.reconnecting import ReconnectingDevice

QUIET_S = 0.3

# Codes completed by what arrived in one poll (maybe none), or None when nothing arrived.
Poll = Callable[[], list[str] | None]


class CodeScanner(ReconnectingDevice):
    name = "scanner"

    def __init__(self, where: str, on_code: Callable[[str], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None],
                 reopen_s: float) -> None:
        super().__init__(where, on_fault, on_recovered, reopen_s)
        self.on_code = on_code

    def _pump(self, poll: Poll, partial: Callable[[], bool],
              flush: Callable[[], list[str]]) -> None:
        """Poll until stop() or a device error, handing on every code."""
        last = time.monotonic()
        while not self._stop.is_set():
            codes = poll()
            now = time.monotonic()
            if codes is not None:
                last = now
            elif partial() and now - last >= QUIET_S:
                codes = flush()
            for code in codes or ():
                self.on_code(code)
