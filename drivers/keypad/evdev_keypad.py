"""A numeric keypad (any USB HID keypad or keyboard) for ID numbers typed by hand.

For people with neither a card nor a code: the operator types the ID number and Enter.
Backspace takes back a character, Escape clears the entry, and an entry left unfinished
for `timeout_s` is cleared (the station says so), so a half-typed number is never
completed by the next person's digits. A keypad has no X: `*`, `.` or the X key types
the check character X. A phone number may follow the ID number after `+`
(`ID + phone Enter`), so a person with neither card nor code can be reached; after a
card read a phone alone (`phone Enter`, or Enter alone for none: the station decides
what an entry means).

On a full USB keyboard, a passport or a travel permit too: letters type themselves, as
printed on the keys (uppercase, whatever Shift or Caps Lock say: documents print them
so), and F1 (passport), F2 (港澳居民来往内地通行证) or F3 (台湾居民来往大陆通行证) before
or while typing chooses the document; without one the station takes a letter-led entry
for a passport (or a 港澳 permit of that form) and digits for an ID number. Punctuation
is passed on, not dropped, so a number typed with a dash is refused with its reason
rather than silently changed. The numeric keypad has none of these keys: it works as it
always did. The device is grabbed like the scanner, so keys never reach a console. The
decoder is pure (time is passed in): the tests feed it real evdev events.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Literal, NamedTuple

from evdev import ecodes as e

from drivers.common.input_device import describe, grabbed
from drivers.common.reconnecting import ReconnectingDevice

DOWN, UP, REPEAT = 1, 0, 2
ID_LENGTH, PHONE_LENGTH = 18, 15
DIGITS = {getattr(e, f"KEY_{n}"): str(n) for n in range(10)} | {
    getattr(e, f"KEY_KP{n}"): str(n) for n in range(10)}
AS_X = {e.KEY_X, e.KEY_KPASTERISK, e.KEY_KPDOT}
SUBMIT = {e.KEY_ENTER, e.KEY_KPENTER}
ERASE = {e.KEY_BACKSPACE}
THEN = {e.KEY_KPPLUS}   # the ID number is done: a phone number follows
CLEAR = {e.KEY_ESC, e.KEY_DELETE}
LETTERS = {getattr(e, f"KEY_{c}"): c for c in "ABCDEFGHIJKLMNOPQRSTUVWYZ"}   # X: AS_X
PUNCTUATION = {e.KEY_MINUS: "-", e.KEY_DOT: ".", e.KEY_SLASH: "/", e.KEY_COMMA: ",",
               e.KEY_SPACE: " "}
# The document chosen before Enter (station.core.messages.TypedDocument has the same).
Document = Literal["", "passport", "hk_macao_pass", "taiwan_pass"]
DOCUMENT_KEYS: dict[int, Document] = {e.KEY_F1: "passport", e.KEY_F2: "hk_macao_pass",
                                      e.KEY_F3: "taiwan_pass"}


class Entry(NamedTuple):
    """What Enter gives: the characters typed, and the document a key chose ("" none)."""

    text: str
    document: Document = ""


class KeypadDecoder:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.typed = ""
        self.document: Document = ""
        self._last = 0.0

    def feed(self, event_type: int, code: int, value: int, now: float) -> Entry | None:
        """One input event; the entry at Enter (possibly empty), else None."""
        if event_type != e.EV_KEY or value == UP:
            return None
        self._last = now
        if code in SUBMIT:   # Enter alone enters "": no phone, for a card that asks one
            entered = Entry(self.typed, self.document)
            self.typed, self.document = "", ""
            return entered
        if code in ERASE:
            self.typed = self.typed[:-1]
        elif code in CLEAR:
            self.typed, self.document = "", ""
        elif code in DOCUMENT_KEYS:
            self.document = DOCUMENT_KEYS[code]
        elif code in DIGITS or code in AS_X:
            self._typed(DIGITS.get(code, "X"))
        elif code in LETTERS or code in PUNCTUATION:
            self._typed(LETTERS.get(code) or PUNCTUATION[code])
        elif code in THEN and self.typed and "+" not in self.typed:
            self.typed += "+"
        return None

    def _typed(self, key: str) -> None:
        """The ID number (or document) takes 18 characters; a phone after "+" 15 digits."""
        number, plus, phone = self.typed.partition("+")
        room = (len(phone) < PHONE_LENGTH and key.isdigit()) if plus else len(number) < ID_LENGTH
        if room:
            self.typed += key

    def expired(self, now: float) -> bool:
        """True once, when an unfinished entry has waited timeout_s: it is cleared."""
        if (self.typed or self.document) and now - self._last >= self.timeout_s:
            self.typed, self.document = "", ""
            return True
        return False


class EvdevKeypad(ReconnectingDevice):
    name = "keypad"

    def __init__(self, device: str, timeout_s: float, *, on_number: Callable[[Entry], None],
                 on_cleared: Callable[[], None], on_fault: Callable[[str], None],
                 on_recovered: Callable[[], None], reopen_s: float = 1.0) -> None:
        super().__init__(device, on_fault, on_recovered, reopen_s)
        self.device, self.timeout_s = device, timeout_s
        self.on_number, self.on_cleared = on_number, on_cleared

    def _describe(self, exc: BaseException) -> str:
        return describe(self.device, exc)

    def _session(self) -> None:
        with grabbed(self.device) as dev:
            self._ready()
            decoder = KeypadDecoder(self.timeout_s)
            while not self._stop.is_set():
                ready, _, _ = select.select([dev.fd], [], [], 0.1)
                now = time.monotonic()
                for event in dev.read() if ready else ():
                    entry = decoder.feed(event.type, event.code, event.value, now)
                    if entry is not None:
                        self.on_number(entry)
                if decoder.expired(now):
                    self.on_cleared()
