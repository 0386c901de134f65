"""A stand-in for the RPi.GPIO module off the Pi, with the behaviour tests rely on:
a pin must be set up as an output before it is driven, levels are remembered, and
cleanup returns pins to inputs (released), as the real library does."""

from __future__ import annotations

from collections.abc import Iterable


class SimGPIO:
    BCM, BOARD = 11, 10
    OUT, IN = 0, 1
    HIGH, LOW = 1, 0

    def __init__(self) -> None:
        self.mode: int | None = None
        self.direction: dict[int, int] = {}
        self.level: dict[int, int] = {}
        self.history: list[tuple[int, int]] = []

    def setwarnings(self, flag: bool) -> None:
        pass

    def setmode(self, mode: int) -> None:
        if self.mode is not None and self.mode != mode:
            raise ValueError("A different mode has already been set!")
        self.mode = mode

    def setup(self, pin: int, direction: int, initial: int = 0) -> None:
        if self.mode is None:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode()")
        self.direction[pin] = direction
        if direction == self.OUT:
            self._drive(pin, initial)

    def output(self, pin: int, level: int) -> None:
        if self.direction.get(pin) != self.OUT:
            raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
        self._drive(pin, level)

    def cleanup(self, pins: Iterable[int] | None = None) -> None:
        for pin in list(pins if pins is not None else self.direction):
            self.direction[pin] = self.IN
            self.level.pop(pin, None)

    def _drive(self, pin: int, level: int) -> None:
        self.level[pin] = int(level)
        self.history.append((pin, int(level)))
