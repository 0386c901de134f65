"""The SAM serial protocol of Chinese ID-card readers (GA 467 style). Pure: no port.

Frame: AA AA AA 96 69 | LEN_H LEN_L | payload | CHK. LEN counts payload + CHK; CHK is
the XOR of LEN_H, LEN_L and the payload. Commands carry CMD PARA; answers carry
SW1 SW2 SW3 and data, SW3 being the status.
"""

from __future__ import annotations

import msgspec

HEADER = b"\xaa\xaa\xaa\x96\x69"
MAX_LEN = 0x1000  # the largest answer (text+photo+fingerprint) is ~2.3 KB

RESET_SAM = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_TEXT_PHOTO = (0x30, 0x01)
READ_TEXT_PHOTO_FP = (0x30, 0x10)

OK, FIND_OK, NO_CARD = 0x90, 0x9F, 0x80
STATUS = {
    0x90: "ok",
    0x9F: "card found",
    0x80: "no card on the reader",
    0x81: "card select failed",
    0x41: "card read failed: hold the card still and try again",
    0x10: "checksum error in the command",
    0x11: "length error in the command",
    0x21: "unknown command",
    0x23: "command not authorised",
    0x24: "unknown error",
    0x31: "card authentication failed",
    0x32: "SAM authentication failed",
    0x33: "card authentication failed (info)",
    0x40: "unknown card type",
    0x47: "random-number failure",
    0x60: "SAM self-test failed",
    0x66: "SAM not authorised",
    0x91: "no content",
}


def describe(sw3: int) -> str:
    return STATUS.get(sw3, f"unknown status 0x{sw3:02X}")


def checksum(body: bytes) -> int:
    value = 0
    for byte in body:
        value ^= byte
    return value


def frame(payload: bytes) -> bytes:
    length = (len(payload) + 1).to_bytes(2, "big")
    return HEADER + length + payload + bytes([checksum(length + payload)])


def command(cmd: tuple[int, int]) -> bytes:
    return frame(bytes(cmd))


def answer(sw3: int, data: bytes = b"") -> bytes:
    return frame(bytes([0, 0, sw3]) + data)


class Frame(msgspec.Struct, frozen=True):
    payload: bytes

    @property
    def sw3(self) -> int:
        return self.payload[2] if len(self.payload) >= 3 else -1

    @property
    def data(self) -> bytes:
        return self.payload[3:]


class FrameError(msgspec.Struct, frozen=True):
    reason: str


class FrameParser:
    """Bytes in, frames out; resynchronises on the header after noise or a bad checksum."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> list[Frame | FrameError]:
        self._buffer += data
        out: list[Frame | FrameError] = []
        while True:
            start = self._buffer.find(HEADER)
            if start < 0:
                # Keep a tail that may be the start of a header split across reads.
                del self._buffer[: max(0, len(self._buffer) - (len(HEADER) - 1))]
                return out
            if start:
                del self._buffer[:start]  # stray bytes before the preamble
            if len(self._buffer) < len(HEADER) + 2:
                return out
            length = int.from_bytes(self._buffer[5:7], "big")
            if not 1 <= length <= MAX_LEN:
                out.append(FrameError(f"impossible length {length}"))
                del self._buffer[:1]
                continue
            end = len(HEADER) + 2 + length
            if len(self._buffer) < end:
                return out
            body = bytes(self._buffer[5:end - 1])
            if checksum(body) != self._buffer[end - 1]:
                out.append(FrameError("bad checksum"))
                del self._buffer[:1]  # the header may have been noise: look again
                continue
            out.append(Frame(body[2:]))
            del self._buffer[:end]
