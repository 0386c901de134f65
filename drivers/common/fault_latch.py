"""A fault is told once when it starts and its recovery once when it ends, however often
a device keeps failing (or working) in between: the operator hears one alarm, not one
a second."""

from __future__ import annotations

from collections.abc import Callable


class FaultLatch:
    def __init__(self, on_fault: Callable[[str], None],
                 on_recovered: Callable[[], None]) -> None:
        self.on_fault, self.on_recovered = on_fault, on_recovered
        self.faulted = False

    def fault(self, reason: str) -> None:
        if not self.faulted:
            self.faulted = True
            self.on_fault(reason)

    def ok(self) -> None:
        if self.faulted:
            self.faulted = False
            self.on_recovered()
