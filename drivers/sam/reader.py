"""The SAM reader driver: a thin serial transport around the card session, in one thread.

The thread only moves bytes: it sends what the session (session.py) asks for, waits as
long as it says, and hands each answer back. Unplugged or silent: one fault, then
retries until the reader answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import serial

from drivers.common.reconnecting import DEVICE_ERRORS, ReconnectingDevice
from drivers.errors import DriverError
from drivers.sam import protocol as p
from drivers.sam.session import (
    POLL_S,
    CardPresented,
    CardSession,
    CardUnreadable,
    Outcome,
    SamIdentified,
    SamNotice,
)
from drivers.sam.text import CardText

log = logging.getLogger("drivers.sam")

ANSWER_TIMEOUT_S = 1.0


class ReaderSilent(DriverError):
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
        self._session_state = CardSession(max(poll_s, 0.05))
        self.sam_id = ""
        self._parser = p.FrameParser()

    def _session(self) -> None:
        with serial.serial_for_url(self.port, self.baudrate, timeout=0.05, write_timeout=1,
                                   exclusive=True) as port:
            self._parser = p.FrameParser()
            self._converse(port)

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

    def _converse(self, port: serial.Serial) -> None:
        send = self._session_state.start()
        while not self._stop.wait(send.after_s):
            outcomes, send = self._session_state.answered(self._ask(port, send.command))
            for outcome in outcomes:
                self._tell(outcome)
            if not self.opened.is_set() and send.command == p.FIND_CARD:
                self._ready()  # the SAM answered its start-up: the reader is open

    def _tell(self, outcome: Outcome) -> None:
        match outcome:
            case CardPresented(card=card):
                self.on_card(card)
            case CardUnreadable(reason=reason):
                self.on_error(reason)
            case SamNotice(command=command, status=status):
                log.warning("%s: SAM command %02X %02X answered: %s", self.port, *command,
                            status)
            case SamIdentified(sam_id=sam_id):
                self.sam_id = sam_id
