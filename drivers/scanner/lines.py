"""Line framing for USB-CDC scanners: bytes in, codes out. Pure; no port needed.

A code ends at CR, LF or CRLF. Scanners send non-ASCII payloads as UTF-8; bytes that
are not UTF-8 are kept as U+FFFD so the code is refused visibly, never dropped.
"""

from __future__ import annotations

MAX_CODE_BYTES = 4096  # a QR code holds at most ~3 KB; anything longer is noise


class LineFramer:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self.overflows = 0

    @property
    def partial(self) -> bool:
        return bool(self._buffer)

    def data_received(self, data: bytes) -> list[str]:
        codes: list[str] = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._buffer:
                    codes.append(self._take())
            elif len(self._buffer) < MAX_CODE_BYTES:
                self._buffer.append(byte)
            else:
                self.overflows += 1  # keep the head; the tail of an endless line is noise
        return codes

    def flush(self) -> list[str]:
        """The scanner went quiet mid-code (no suffix configured): take what we have."""
        return [self._take()] if self._buffer else []

    def _take(self) -> str:
        text = self._buffer.decode("utf-8", errors="replace")
        self._buffer.clear()
        return text
