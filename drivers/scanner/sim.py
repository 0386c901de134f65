"""The scanner simulator, a real pty: the station reads it with the real SerialScanner,
so the sim exercises the same framing and transport code as a USB-CDC scanner.
"""

from __future__ import annotations

import os
import tty

from drivers.common.pty import close_once


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
        fds, self.master, self._slave = (self.master, self._slave), -1, -1
        close_once(*fds)
