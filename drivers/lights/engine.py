"""Plays light patterns without blocking anyone: one thread owns the outputs, and a new
pattern cancels the one playing. A pattern with no steady part falls back to the last
steady one, so "refused" returns to "tube open" by itself; a caller may also name the
steady part to return to (the station holds `fault` while any part is faulted).
An output that fails (a GPIO write refused) is a fault of the lights, told once, and
recovered when a write succeeds again; the engine itself never stops.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from drivers.common.fault_latch import FaultLatch
from drivers.lights.patterns import LAMPS, PATTERNS, Pattern, PatternName, Step

HISTORY = 256


class Outputs(Protocol):
    def set(self, on: frozenset[str]) -> None: ...
    def release(self) -> None: ...


class PatternEngine:
    def __init__(self, outputs: Outputs, on_fault: Callable[[str], None] = lambda _: None,
                 on_recovered: Callable[[], None] = lambda: None) -> None:
        self.outputs = outputs
        self.health = FaultLatch(on_fault, on_recovered)
        # (monotonic time, pattern) shown, the latest few: a day's worth would only grow.
        self.history: deque[tuple[float, PatternName]] = deque(maxlen=HISTORY)
        self.shown = 0   # patterns shown since start: how a watcher sees a new one
        self.holding: PatternName = "off"   # whose steady part plays after the cue
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

    def show(self, name: PatternName, steady: PatternName | None = None) -> None:
        """Play `name`, then hold `steady`'s steady part (default: its own, or the last)."""
        pattern = PATTERNS[name]
        with self.changed:
            self.history.append((time.monotonic(), name))
            self.shown += 1
            self._pattern = pattern
            if steady is not None:
                self._steady, self.holding = PATTERNS[steady].steady, steady
            elif pattern.steady or name == "off":
                self._steady, self.holding = pattern.steady, name
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
        self._set(step.on & frozenset(LAMPS))
        self.changed.wait_for(lambda: self._generation != generation or self._stop,
                              timeout=step.seconds)
        return self._generation == generation and not self._stop

    def _hold(self, generation: int) -> None:
        if not self._steady:
            self._set(frozenset())
            self.changed.wait_for(lambda: self._generation != generation or self._stop)
            return
        while True:
            for step in self._steady:
                if not self._play(step, generation):
                    return

    def _set(self, on: frozenset[str]) -> None:
        try:
            self.outputs.set(on)
        except (OSError, RuntimeError) as exc:   # RPi.GPIO raises RuntimeError
            self.health.fault(f"lights: {exc}")
            return
        self.health.ok()
