"""The reader's card session as a plain object: which command to send next, and what each
answer means. No port, no thread, no clock: the transport (reader.py) moves the bytes
and waits as told, so every rule here is testable with frames alone.

At start: reset, status and SAM id. Then find → select → read, one cycle per poll. The
pause between finds is 50 ms: public implementations poll every ~300 ms, which put up to
300 ms between a card laid down and its find, the largest part of the station's own
time for a card (`station bench`: card_to_accept_ms). A find asks the reader one short
question (10 bytes each way); 20 a second cost the line and a Pi's core nothing worth
counting. One card on the reader counts once: it must be lifted (a find that sees no
card) before the same card counts again.
"""

from __future__ import annotations

import msgspec

from drivers.sam import protocol as p
from drivers.sam.text import CardText, CardTextError, decode

POLL_S = 0.05   # between finds: see above
TEXT_AT, TEXT_LEN = 4, 256  # after the text and photo lengths; the photo follows


class Send(msgspec.Struct, frozen=True):
    command: tuple[int, int]
    after_s: float  # wait this long first


class CardPresented(msgspec.Struct, frozen=True):
    card: CardText


class CardUnreadable(msgspec.Struct, frozen=True):
    reason: str  # for the operator: try again


class SamNotice(msgspec.Struct, frozen=True):
    """A start-up command the reader refused: worth a warning, never fatal (readers
    differ in what they implement; a SAM really broken shows in every read)."""

    command: tuple[int, int]
    status: str


class SamIdentified(msgspec.Struct, frozen=True):
    sam_id: str  # hex; "" when the reader would not say


Outcome = CardPresented | CardUnreadable | SamNotice | SamIdentified
Step = tuple[list[Outcome], Send]


class CardSession:
    def __init__(self, poll_s: float = POLL_S) -> None:
        self.poll_s = poll_s
        self._asked: tuple[int, int] = p.RESET_SAM
        self._holding = ""  # the number of the card read last, until a find sees no card

    def start(self) -> Send:
        self._asked, self._holding = p.RESET_SAM, ""
        return Send(p.RESET_SAM, 0.0)

    def answered(self, answer: p.Frame) -> Step:
        """What the answer to the last command means, and what to send next."""
        handlers = {p.RESET_SAM: self._reset, p.SAM_STATUS: self._status,
                    p.SAM_ID: self._identified, p.FIND_CARD: self._found,
                    p.SELECT_CARD: self._selected, p.READ_TEXT_PHOTO: self._read}
        return handlers[self._asked](answer)

    def _reset(self, answer: p.Frame) -> Step:
        return self._notice(p.RESET_SAM, answer), self._send(p.SAM_STATUS)

    def _status(self, answer: p.Frame) -> Step:
        return self._notice(p.SAM_STATUS, answer), self._send(p.SAM_ID)

    def _notice(self, command: tuple[int, int], answer: p.Frame) -> list[Outcome]:
        return [] if answer.sw3 == p.OK else [SamNotice(command, p.describe(answer.sw3))]

    def _identified(self, answer: p.Frame) -> Step:
        return [SamIdentified(answer.data.hex() if answer.sw3 == p.OK else "")], self._poll()

    def _found(self, answer: p.Frame) -> Step:
        if answer.sw3 != p.FIND_OK:
            self._holding = ""  # lifted (or never there): the next card counts
            return [], self._poll()
        return [], self._send(p.SELECT_CARD)

    def _selected(self, answer: p.Frame) -> Step:
        if answer.sw3 != p.OK:
            return [], self._poll()  # moved away between find and select: retry
        return [], self._send(p.READ_TEXT_PHOTO)

    def _read(self, answer: p.Frame) -> Step:
        if answer.sw3 != p.OK:
            return [CardUnreadable(p.describe(answer.sw3))], self._poll()
        try:
            card = decode(answer.data[TEXT_AT:TEXT_AT + TEXT_LEN])
        except CardTextError as exc:
            return [CardUnreadable(f"card text unreadable: {exc}")], self._poll()
        # What follows the text is the photo: dropped here, never stored or sent.
        if card.number == self._holding:
            return [], self._poll()  # some readers find a card that never left: once
        self._holding = card.number
        return [CardPresented(card)], self._poll()

    def _send(self, command: tuple[int, int]) -> Send:
        self._asked = command
        return Send(command, 0.0)

    def _poll(self) -> Send:
        self._asked = p.FIND_CARD
        return Send(p.FIND_CARD, self.poll_s)
