"""The HID scanner decoder on real evdev.InputEvent sequences (no /dev/uinput here)."""

from __future__ import annotations

import pytest

evdev = pytest.importorskip("evdev")
from evdev import InputEvent, ecodes  # noqa: E402

from drivers.scanner.hid_keys import KeyDecoder  # noqa: E402

SHIFT = ecodes.KEY_LEFTSHIFT
PLAIN = {c: getattr(ecodes, f"KEY_{c.upper()}") for c in "abcdefghijklmnopqrstuvwxyz"}
PLAIN |= {d: getattr(ecodes, f"KEY_{d}") for d in "0123456789"}
PLAIN |= {":": ecodes.KEY_SEMICOLON, '"': ecodes.KEY_APOSTROPHE, "{": ecodes.KEY_LEFTBRACE,
          "}": ecodes.KEY_RIGHTBRACE, ",": ecodes.KEY_COMMA, " ": ecodes.KEY_SPACE,
          "-": ecodes.KEY_MINUS}
NEEDS_SHIFT = set(':"{}') | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def press(code: int, t: float = 0.0) -> list[InputEvent]:
    sec, usec = int(t), int((t % 1) * 1e6)
    return [InputEvent(sec, usec, ecodes.EV_MSC, ecodes.MSC_SCAN, 458756),
            InputEvent(sec, usec, ecodes.EV_KEY, code, 1),
            InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
            InputEvent(sec, usec, ecodes.EV_KEY, code, 0),
            InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0)]


def typed(text: str) -> list[InputEvent]:
    """What a US-layout wedge scanner sends for ASCII text."""
    events: list[InputEvent] = []
    for char in text:
        key = PLAIN[char.lower()] if char.isalpha() else PLAIN.get(char, None)
        if key is None:
            key = {":": ecodes.KEY_SEMICOLON, '"': ecodes.KEY_APOSTROPHE,
                   "{": ecodes.KEY_LEFTBRACE, "}": ecodes.KEY_RIGHTBRACE}[char]
        if char in NEEDS_SHIFT:
            events.append(InputEvent(0, 0, ecodes.EV_KEY, SHIFT, 1))
            events += press(key)
            events.append(InputEvent(0, 0, ecodes.EV_KEY, SHIFT, 0))
        else:
            events += press(key)
    return events


def alt_bytes(data: bytes) -> list[InputEvent]:
    """Bytes beyond ASCII as Alt + keypad decimal digits, one Alt press per byte."""
    events: list[InputEvent] = []
    for byte in data:
        events.append(InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_LEFTALT, 1))
        for digit in f"{byte:03d}":
            events += press(getattr(ecodes, f"KEY_KP{digit}"))
        events.append(InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_LEFTALT, 0))
    return events


def decode(events: list[InputEvent]) -> list[str]:
    decoder = KeyDecoder()
    out = [decoder.feed(ev.type, ev.code, ev.value) for ev in events]
    return [code for code in out if code is not None]


def test_tube_code_ends_at_enter() -> None:
    assert decode(typed("T000123") + press(ecodes.KEY_ENTER)) == ["T000123"]


def test_shifted_json_person_code() -> None:
    code = '{"id":"11010519491231002X","name":"li si"}'
    assert decode(typed(code) + press(ecodes.KEY_TAB)) == [code]


def test_capslock_inverts_letters_but_not_digits() -> None:
    events = press(ecodes.KEY_CAPSLOCK) + typed("abc123") + press(ecodes.KEY_CAPSLOCK)
    events += typed("x") + press(ecodes.KEY_ENTER)
    assert decode(events) == ["ABC123x"]


def test_capslock_with_shift_gives_lowercase() -> None:
    events = press(ecodes.KEY_CAPSLOCK) + typed("A") + press(ecodes.KEY_KPENTER)
    assert decode(events) == ["a"]


def test_utf8_name_sent_as_alt_codes() -> None:
    events = typed('{"name":"') + alt_bytes("张三".encode()) + typed('"}')
    assert decode(events + press(ecodes.KEY_ENTER)) == ['{"name":"张三"}']


def test_bytes_that_are_not_utf8_are_kept_visible() -> None:
    events = typed("x") + alt_bytes(b"\xff") + press(ecodes.KEY_ENTER)
    assert decode(events) == ["x\ufffd"]


def test_key_repeat_and_other_event_types_are_ignored_sensibly() -> None:
    events = [InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_A, 1),
              InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_A, 2),   # autorepeat: a second a
              InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_A, 0),
              InputEvent(0, 0, ecodes.EV_LED, ecodes.LED_CAPSL, 1),
              *press(ecodes.KEY_ENTER)]
    assert decode(events) == ["aa"]


def test_partial_code_is_flushed_after_quiet_and_empty_enters_emit_nothing() -> None:
    decoder = KeyDecoder()
    for ev in press(ecodes.KEY_ENTER) + typed("T1"):
        assert decoder.feed(ev.type, ev.code, ev.value) is None
    assert decoder.partial and decoder.flush() == "T1" and not decoder.partial
