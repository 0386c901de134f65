"""What the HID scanner and the keypad share: an input device under /dev/input, grabbed
(EVIOCGRAB) so its keys never reach a console, and its errors said with a hint."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from evdev import InputDevice


@contextmanager
def grabbed(path: str) -> Iterator[InputDevice[str]]:
    dev = InputDevice(path)
    try:
        dev.grab()
        yield dev
    finally:
        dev.close()


def describe(path: str, exc: BaseException) -> str:
    hint = (" (is the service user in group 'input'?)"
            if getattr(exc, "errno", None) == 13 else "")
    return f"{path}: {getattr(exc, 'strerror', None) or exc}{hint}"
