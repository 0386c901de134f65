"""The [keypad] section: a numeric keypad for ID numbers typed by hand (or a full USB
keyboard, which also types passports and travel permits), or none."""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from drivers.common.config_section import Section, in_range, one_of

KeypadDriver = Literal["none", "evdev"]


class KeypadConfig(msgspec.Struct, frozen=True):
    driver: KeypadDriver = "none"
    device: str = ""         # evdev: /dev/input/by-id/…-event-kbd
    timeout_s: int = 20      # an unfinished entry is cleared after this many seconds


def read(section: Section) -> KeypadConfig:
    d = KeypadConfig()
    config = KeypadConfig(
        driver=section.get("driver", str, d.driver, one_of(*get_args(KeypadDriver))),
        device=section.get("device", str, d.device),
        timeout_s=section.get("timeout_s", int, d.timeout_s, in_range(3, 600)),
    )
    if config.driver == "evdev" and not config.device:
        section.problem("device", "is required with driver = 'evdev' "
                                  "(e.g. '/dev/input/by-id/usb-…-event-kbd')")
    return config
