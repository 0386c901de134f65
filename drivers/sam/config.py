"""The [card_reader] section: which reader, on which port."""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from drivers.common.config_section import Section, in_range, one_of

CardReaderDriver = Literal["sim", "sam"]  # sim: the emulator on a pty


class CardReaderConfig(msgspec.Struct, frozen=True):
    driver: CardReaderDriver = "sim"
    port: str = ""          # best a stable name: /dev/serial/by-id/… or a udev symlink
    baudrate: int = 115200  # the SAM protocol's default


def read(section: Section) -> CardReaderConfig:
    d = CardReaderConfig()
    config = CardReaderConfig(
        driver=section.get("driver", str, d.driver, one_of(*get_args(CardReaderDriver))),
        port=section.get("port", str, d.port),
        baudrate=section.get("baudrate", int, d.baudrate, in_range(1200, 921600)),
    )
    if config.driver == "sam" and not config.port:
        section.problem("port", "is required with driver = 'sam' "
                                "(best a stable name from /dev/serial/by-id/)")
    return config
