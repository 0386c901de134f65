"""Outputs that remember: what a tester watching the tower would have seen, and when."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class SimOutputs:
    changes: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    released: bool = False

    def set(self, on: frozenset[str]) -> None:
        if not self.changes or self.changes[-1][1] != on:
            self.changes.append((time.monotonic(), on))

    def release(self) -> None:
        self.set(frozenset())
        self.released = True

    @property
    def lit(self) -> frozenset[str]:
        return self.changes[-1][1] if self.changes else frozenset()
