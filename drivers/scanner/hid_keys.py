"""HID keyboard-wedge scanners: key events in, codes out. Pure: no device needed.

US layout with Shift and CapsLock; a code ends at Enter or Tab. Scanners send bytes
beyond ASCII as Alt + keypad decimal codes (one per byte), so a code is collected as
bytes and decoded as UTF-8 at its end; bytes that are not UTF-8 become U+FFFD and the
code is refused visibly, never dropped.
"""

from __future__ import annotations

from evdev import ecodes as e

EV_KEY = e.EV_KEY
DOWN, UP, REPEAT = 1, 0, 2
MAX_CODE_BYTES = 4096

_PLAIN = "1234567890-=qwertyuiop[]asdfghjkl;'`\\zxcvbnm,./ "
_SHIFTED = '!@#$%^&*()_+QWERTYUIOP{}ASDFGHJKL:"~|ZXCVBNM<>? '
_KEYS = [e.KEY_1, e.KEY_2, e.KEY_3, e.KEY_4, e.KEY_5, e.KEY_6, e.KEY_7, e.KEY_8, e.KEY_9,
         e.KEY_0, e.KEY_MINUS, e.KEY_EQUAL, e.KEY_Q, e.KEY_W, e.KEY_E, e.KEY_R, e.KEY_T,
         e.KEY_Y, e.KEY_U, e.KEY_I, e.KEY_O, e.KEY_P, e.KEY_LEFTBRACE, e.KEY_RIGHTBRACE,
         e.KEY_A, e.KEY_S, e.KEY_D, e.KEY_F, e.KEY_G, e.KEY_H, e.KEY_J, e.KEY_K, e.KEY_L,
         e.KEY_SEMICOLON, e.KEY_APOSTROPHE, e.KEY_GRAVE, e.KEY_BACKSLASH, e.KEY_Z, e.KEY_X,
         e.KEY_C, e.KEY_V, e.KEY_B, e.KEY_N, e.KEY_M, e.KEY_COMMA, e.KEY_DOT, e.KEY_SLASH,
         e.KEY_SPACE]
CHARS = {key: (plain, shifted) for key, plain, shifted in zip(_KEYS, _PLAIN, _SHIFTED,
                                                               strict=True)}
KEYPAD = {e.KEY_KP0: "0", e.KEY_KP1: "1", e.KEY_KP2: "2", e.KEY_KP3: "3", e.KEY_KP4: "4",
          e.KEY_KP5: "5", e.KEY_KP6: "6", e.KEY_KP7: "7", e.KEY_KP8: "8", e.KEY_KP9: "9"}
KEYPAD_SYMBOLS = {e.KEY_KPMINUS: "-", e.KEY_KPPLUS: "+", e.KEY_KPASTERISK: "*",
                  e.KEY_KPSLASH: "/", e.KEY_KPDOT: "."}
SHIFTS = {e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT}
ALTS = {e.KEY_LEFTALT, e.KEY_RIGHTALT}
ENDS = {e.KEY_ENTER, e.KEY_KPENTER, e.KEY_TAB}


class KeyDecoder:
    def __init__(self) -> None:
        self._bytes = bytearray()
        self._shift = 0
        self._caps = False
        self._alt = 0
        self._alt_digits = ""

    @property
    def partial(self) -> bool:
        return bool(self._bytes or self._alt_digits)

    def feed(self, event_type: int, code: int, value: int) -> str | None:
        """One input event; returns a finished code at Enter/Tab, else None."""
        if event_type != EV_KEY or self._modifier(code, value) or value == UP:
            return None
        if code in ENDS:
            return self.flush() if self._bytes else None
        self._press(code)
        return None

    def _modifier(self, code: int, value: int) -> bool:
        """Track Shift, Alt and CapsLock; True when the event was one of them."""
        if code in SHIFTS:
            self._shift = max(0, self._shift + (1 if value == DOWN else -1 if value == UP else 0))
        elif code in ALTS:
            self._alt_key(value)
        elif code == e.KEY_CAPSLOCK:
            if value == DOWN:
                self._caps = not self._caps
        else:
            return False
        return True

    def _alt_key(self, value: int) -> None:
        if value == DOWN:
            self._alt += 1
        elif value == UP:
            self._alt = max(0, self._alt - 1)
            if self._alt == 0 and self._alt_digits:
                self._put(int(self._alt_digits) & 0xFF)  # one byte per Alt+digits
                self._alt_digits = ""

    def _press(self, code: int) -> None:
        if self._alt and code in KEYPAD:
            self._alt_digits += KEYPAD[code]
            return
        if code in KEYPAD:
            self._put(ord(KEYPAD[code]))
        elif code in KEYPAD_SYMBOLS:
            self._put(ord(KEYPAD_SYMBOLS[code]))
        elif code in CHARS:
            plain, shifted = CHARS[code]
            upper = bool(self._shift)
            if plain.isalpha() and self._caps:
                upper = not upper
            self._put(ord(shifted if upper else plain))

    def _put(self, byte: int) -> None:
        if len(self._bytes) < MAX_CODE_BYTES:
            self._bytes.append(byte)

    def flush(self) -> str | None:
        """End the code now (Enter, or the scanner went quiet mid-code)."""
        self._alt_digits = ""
        if not self._bytes:
            return None
        text = self._bytes.decode("utf-8", errors="replace")
        self._bytes.clear()
        return text
