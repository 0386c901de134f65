"""The [lights] section: the tower's pins, or the simulated tower."""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from drivers.common.config_section import Section, in_range, one_of

LightsDriver = Literal["sim", "gpio"]


class LightsConfig(msgspec.Struct, frozen=True):
    driver: LightsDriver = "sim"
    red: int = 17               # BCM pin numbers
    yellow: int = 27
    green: int = 22
    buzzer: int = 23
    active_low: bool = False    # True when a pin pulled low switches the output on

    @property
    def pins(self) -> dict[str, int]:
        return {"red": self.red, "yellow": self.yellow, "green": self.green,
                "buzzer": self.buzzer}


def read(section: Section) -> LightsConfig:
    d = LightsConfig()
    pin = in_range(2, 27)  # the BCM GPIOs on the 40-pin header
    config = LightsConfig(
        driver=section.get("driver", str, d.driver, one_of(*get_args(LightsDriver))),
        red=section.get("red", int, d.red, pin),
        yellow=section.get("yellow", int, d.yellow, pin),
        green=section.get("green", int, d.green, pin),
        buzzer=section.get("buzzer", int, d.buzzer, pin),
        active_low=section.get("active_low", bool, d.active_low),
    )
    if len(set(config.pins.values())) < 4:
        section.problem("red/yellow/green/buzzer", f"two outputs share a pin: {config.pins}")
    return config
