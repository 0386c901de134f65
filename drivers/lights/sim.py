"""Outputs that remember: what a tester watching the tower would have seen, and when."""

from __future__ import annotations

import threading
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field


@dataclass
class SimOutputs:
    changes: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    released: bool = False
    broken: bool = False   # a write fails, as a GPIO line whose driver went away
    # Notified at every change, so a watcher never misses an 80 ms beep between polls.
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False,
                                         compare=False)

    def set(self, on: frozenset[str]) -> None:
        if self.broken:
            raise OSError("cannot drive the outputs (simulated)")
        with self.changed:
            if not self.changes or self.changes[-1][1] != on:
                self.changes.append((time.monotonic(), on))
                self.changed.notify_all()

    def wait_seen(self, lit: AbstractSet[str], after: int = 0, timeout: float = 3) -> int | None:
        """Wait until the outputs showed `lit` at a change after index `after`; return
        the index of that change, or None at the timeout. Reads the history, so a beep
        shorter than any polling interval is still seen."""
        def seen() -> int | None:
            return next((i for i in range(after, len(self.changes))
                         if self.changes[i][1] == lit), None)
        with self.changed:
            self.changed.wait_for(lambda: seen() is not None, timeout)
            return seen()

    def release(self) -> None:
        self.set(frozenset())
        self.released = True

    @property
    def lit(self) -> frozenset[str]:
        return self.changes[-1][1] if self.changes else frozenset()
