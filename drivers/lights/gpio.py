"""Lamps and buzzer on Raspberry Pi GPIO through the RPi.GPIO API (rpi-lgpio on a Pi 5).

Wired so that a released pin means off; `release()` returns every pin to an input,
which is also what a crash leaves behind once the process is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.errors import DriverError


class GpioUnavailable(DriverError, RuntimeError):
    pass


def load_gpio() -> Any:
    try:
        from RPi import GPIO  # noqa: PLC0415 - only on the Pi
    except (ImportError, RuntimeError) as exc:
        raise GpioUnavailable(
            f"RPi.GPIO cannot be used here ({exc}). On a Raspberry Pi install RPi.GPIO, "
            "or rpi-lgpio on a Pi 5; elsewhere use [lights] driver = \"sim\"") from exc
    return GPIO


class GpioOutputs:
    def __init__(self, pins: Mapping[str, int], active_low: bool, gpio: Any = None) -> None:
        self.gpio = gpio or load_gpio()
        self.pins, self.active_low = dict(pins), active_low
        self.gpio.setwarnings(False)
        self.gpio.setmode(self.gpio.BCM)
        for pin in self.pins.values():
            self.gpio.setup(pin, self.gpio.OUT, initial=self._level(False))

    def _level(self, on: bool) -> int:
        return int(self.gpio.HIGH if on != self.active_low else self.gpio.LOW)

    def set(self, on: frozenset[str]) -> None:
        for name, pin in self.pins.items():
            self.gpio.output(pin, self._level(name in on))

    def release(self) -> None:
        for pin in self.pins.values():
            self.gpio.output(pin, self._level(False))
        self.gpio.cleanup(list(self.pins.values()))
