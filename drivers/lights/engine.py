"""Plays light patterns without blocking anyone: one thread owns the outputs, and a new
pattern cancels the one playing. A pattern with no steady part falls back to the last
steady one, so "refused" returns to "tube open" by itself.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from drivers.lights.patterns import LAMPS, PATTERNS, Pattern, PatternName, Step


class Outputs(Protocol):
    def set(self, on: frozenset[str]) -> None: ...
    def release(self) -> None: ...


class PatternEngine:
    def __init__(self, outputs: Outputs) -> None:
        self.outputs = outputs
        self.history: list[tuple[float, PatternName]] = []   # (monotonic time, pattern) shown
        self.changed = threading.Condition()
        self._pattern: Pattern = PATTERNS["off"]
        self._steady: tuple[Step, ...] = ()
        self._generation = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="lights", daemon=True)
        self._thread.start()

    @property
    def current(self) -> PatternName:
        return self.history[-1][1] if self.history else "off"

    def show(self, name: PatternName) -> None:
        pattern = PATTERNS[name]
        with self.changed:
            self.history.append((time.monotonic(), name))
            self._pattern = pattern
            if pattern.steady or name == "off":
                self._steady = pattern.steady
            self._generation += 1
            self.changed.notify_all()

    def off(self) -> None:
        """Stop playing and leave every output released: the safe state."""
        self.show("off")
        with self.changed:
            self._stop = True
            self.changed.notify_all()
        self._thread.join(2)
        self.outputs.release()

    def _run(self) -> None:
        with self.changed:
            while not self._stop:
                generation = self._generation
                for step in (*self._pattern.cue,):
                    if not self._play(step, generation):
                        break
                else:
                    self._hold(generation)

    def _play(self, step: Step, generation: int) -> bool:
        """Show one step; False when a new pattern arrived meanwhile."""
        self.outputs.set(step.on & frozenset(LAMPS))
        self.changed.wait_for(lambda: self._generation != generation or self._stop,
                              timeout=step.seconds)
        return self._generation == generation and not self._stop

    def _hold(self, generation: int) -> None:
        if not self._steady:
            self.outputs.set(frozenset())
            self.changed.wait_for(lambda: self._generation != generation or self._stop)
            return
        while True:
            for step in self._steady:
                if not self._play(step, generation):
                    return
