"""A SAM reader emulator on a pty: answers the real command frames with real bytes.

`present()` puts a card on it; the card is found once, then reads as absent until it
is lifted and placed again, as on a real reader. Faults can be injected.

It keeps a reader's time too: each answer leaves paced at the line's baud rate (8N1: ten
bits a byte, so a read's 1,295 bytes take 112 ms at 115,200 baud), after the time the
reader itself takes to find, select and read a card over the air. Readers' data sheets
give under one second for a whole read; how that second splits between the three steps
is not published for the SAM modules we know of, so the defaults below are ours, chosen
within it (0.03 + 0.03 + 0.4 s, and 0.11 s on the line: 0.57 s). `timed=False` answers
at once, for tests of the protocol.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field

from drivers.common.pty import close_once
from drivers.sam import protocol as p
from drivers.sam.text import TEXT_LEN, CardText

SAM_ID_BYTES = bytes.fromhex("0501000000000000" "1234567800000001")
# A recognisable stand-in for the 1024-byte WLT photo, so tests can look for it.
PHOTO = (b"WLT-PHOTO-" * 103)[:1024]


def put(block: bytearray, offset: int, length: int, value: str) -> None:
    raw = value.encode("utf-16-le")[:length]
    block[offset:offset + length] = raw + " ".encode("utf-16-le") * ((length - len(raw)) // 2)


def encode(card: CardText) -> bytes:
    """The text block a card of this identity carries (resident and J layouts, and Y)."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_LEN // 2))
    gender = {"male": "1", "female": "2"}.get(card.gender, "0")
    undash = card.birth.replace("-", "")
    if card.id_type == "foreign":
        put(block, 0, 30, card.name)
        put(block, 30, 2, gender)
        put(block, 36, 16, undash)
        put(block, 52, 70, card.english_name)
        put(block, 242, 6, card.nation)
        put(block, 248, 2, "Y")
    else:
        put(block, 0, 30, card.name)
        put(block, 30, 2, gender)
        put(block, 32, 4, card.nation or "01")
        put(block, 36, 16, undash)
        put(block, 52, 70, card.address)
        if card.id_type == "hmt_permit":
            put(block, 248, 2, "J")
    put(block, 122, 36, card.number)
    put(block, 188, 16, card.valid_from.replace("-", ""))
    put(block, 204, 16, card.valid_to.replace("-", ""))
    return bytes(block)


@dataclass
class SamSimulator:
    """Keeps a history of the commands it answered; `fail_next` injects a status."""

    history: list[tuple[int, int]] = field(default_factory=list)
    noise_before_answer: bytes = b""
    timed: bool = True         # a real reader's time (below); False: answers at once
    baudrate: int = 115200     # the line the answers are paced at (8N1)
    find_s: float = 0.03       # the reader looking for a card, found or not
    select_s: float = 0.03
    read_s: float = 0.4        # the SAM authenticating and reading the chip

    def __post_init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._card: bytes | None = None
        self._found = False
        self._selected = False
        self._fail: list[tuple[int, tuple[int, int] | None]] = []   # (status, command)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sam-sim", daemon=True)
        self._thread.start()

    def present(self, card: CardText) -> None:
        with self._lock:
            self._card, self._found, self._selected = encode(card), False, False

    def lift(self) -> None:
        with self._lock:
            self._card = None

    def fail_next(self, sw3: int, command: tuple[int, int] | None = None) -> None:
        """Answer the next command (or the next of this kind) with status `sw3`."""
        with self._lock:
            self._fail.append((sw3, command))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        fds, self.master, self._slave = (self.master, self._slave), -1, -1
        close_once(*fds)

    def _serve(self) -> None:
        parser = p.FrameParser()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for item in parser.data_received(data):
                reply = (self._answer(item) if isinstance(item, p.Frame)
                         else p.answer(0x10))  # the reader's "checksum error"
                if self.timed and isinstance(item, p.Frame):
                    time.sleep(self._takes(item))
                self._write(self.noise_before_answer + reply)

    def _takes(self, command: p.Frame) -> float:
        cmd = (command.payload[0], command.payload[1]) if len(command.payload) >= 2 else (0, 0)
        return {p.FIND_CARD: self.find_s, p.SELECT_CARD: self.select_s,
                p.READ_TEXT_PHOTO: self.read_s}.get(cmd, 0.0)

    def _write(self, data: bytes) -> None:
        """At the line's pace: a chunk, then the time its bits take at the baud rate."""
        chunk = 64 if self.timed else len(data)
        for at in range(0, len(data), max(chunk, 1)):
            piece = data[at:at + chunk]
            with contextlib.suppress(OSError):
                os.write(self.master, piece)
            if self.timed:
                time.sleep(len(piece) * 10 / self.baudrate)

    def _answer(self, command: p.Frame) -> bytes:
        cmd = (command.payload[0], command.payload[1]) if len(command.payload) >= 2 else (0, 0)
        with self._lock:
            self.history.append(cmd)
            for n, (sw3, only) in enumerate(self._fail):
                if only is None or only == cmd:
                    del self._fail[n]
                    return p.answer(sw3)
            return self._respond(cmd)

    def _respond(self, cmd: tuple[int, int]) -> bytes:
        handlers = {
            p.RESET_SAM: lambda: p.answer(p.OK),
            p.SAM_STATUS: lambda: p.answer(p.OK),
            p.SAM_ID: lambda: p.answer(p.OK, SAM_ID_BYTES),
            p.FIND_CARD: self._find,
            p.SELECT_CARD: self._select,
            p.READ_TEXT_PHOTO: self._read,
        }
        handler = handlers.get(cmd)
        return handler() if handler else p.answer(0x21)  # unknown command

    def _find(self) -> bytes:
        if self._card is None or self._found:
            return p.answer(p.NO_CARD)
        self._found = True
        return p.answer(p.FIND_OK, b"\x00\x00\x00\x00")

    def _select(self) -> bytes:
        if self._card is None or not self._found:
            return p.answer(0x81)
        self._selected = True
        return p.answer(p.OK, bytes(8))

    def _read(self) -> bytes:
        if self._card is None or not self._selected:
            return p.answer(0x41)
        self._selected = False
        photo = PHOTO  # a WLT photo; the station must never keep it
        return p.answer(p.OK, b"\x01\x00\x04\x00" + self._card + photo)
