"""The SAM reader driver: a thin serial transport around the protocol, in one thread.

At start: reset, status and SAM id. Then find → select → read at the reader's pace
(never faster than every 300 ms). One card on the reader registers once: it must be
lifted (a find that fails) before the same card counts again. Unplugged or silent:
one fault, then retries until the reader answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import serial

from drivers.reconnecting import DEVICE_ERRORS, ReconnectingDevice
from drivers.sam import protocol as p
from drivers.sam.text import CardText, CardTextError, decode

log = logging.getLogger("drivers.sam")

POLL_S = 0.3
ANSWER_TIMEOUT_S = 1.0


class ReaderSilent(Exception):
    pass


class SamReader(ReconnectingDevice):
    name = "card-reader"
    errors = (*DEVICE_ERRORS, ReaderSilent)

    def __init__(self, port: str, baudrate: int = 115200, *,
                 on_card: Callable[[CardText], None],
                 on_error: Callable[[str], None],
                 on_fault: Callable[[str], None],
                 on_recovered: Callable[[], None],
                 poll_s: float = POLL_S, reopen_s: float = 1.0) -> None:
        super().__init__(port, on_fault, on_recovered, reopen_s)
        self.port, self.baudrate = port, baudrate
        self.on_card, self.on_error = on_card, on_error
        self.poll_s = max(poll_s, 0.05)
        self.sam_id = ""
        self._parser = p.FrameParser()

    def _session(self) -> None:
        with serial.serial_for_url(self.port, self.baudrate, timeout=0.05, write_timeout=1,
                                   exclusive=True) as port:
            self._parser = p.FrameParser()
            self._start_sam(port)
            self._ready()
            self._poll(port)

    def _ask(self, port: serial.Serial, cmd: tuple[int, int]) -> p.Frame:
        port.reset_input_buffer()
        port.write(p.command(cmd))
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while time.monotonic() < deadline:
            for item in self._parser.data_received(port.read(port.in_waiting or 1)):
                if isinstance(item, p.Frame):
                    return item
                log.debug("reader sent a broken frame: %s", item.reason)
        raise ReaderSilent(f"no answer to command {cmd[0]:02X} {cmd[1]:02X} within "
                           f"{ANSWER_TIMEOUT_S:.0f} s (wrong port or baud rate?)")

    def _start_sam(self, port: serial.Serial) -> None:
        # Only silence is fatal here: readers differ in what they implement (some have no
        # reset), and a SAM that is really broken shows in every read, to the operator.
        for cmd in (p.RESET_SAM, p.SAM_STATUS):
            answer = self._ask(port, cmd)
            if answer.sw3 != p.OK:
                log.warning("%s: SAM command %02X %02X answered: %s", self.port, *cmd,
                            p.describe(answer.sw3))
        answer = self._ask(port, p.SAM_ID)
        self.sam_id = answer.data.hex() if answer.sw3 == p.OK else ""

    def _poll(self, port: serial.Serial) -> None:
        holding = ""  # the number of the card read last, until a find sees no card
        while not self._stop.wait(self.poll_s):
            found = self._ask(port, p.FIND_CARD)
            if found.sw3 != p.FIND_OK:
                holding = ""  # lifted (or never there): the next card counts
                continue
            if self._ask(port, p.SELECT_CARD).sw3 != p.OK:
                continue  # moved away between find and select: the next poll retries
            answer = self._ask(port, p.READ_TEXT_PHOTO)
            if answer.sw3 != p.OK:
                self.on_error(p.describe(answer.sw3))
                continue
            try:
                card = decode(answer.data[4:4 + 256])
            except CardTextError as exc:
                self.on_error(f"card text unreadable: {exc}")
                continue
            # answer.data[260:] is the photo: it is dropped here, never stored or sent.
            if card.number == holding:
                continue  # some readers find a card that never left: it counts once
            holding = card.number
            self.on_card(card)
