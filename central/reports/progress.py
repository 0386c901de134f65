"""Long reports say how far they are: a city's register reads millions of events for
minutes, and a clerk at a terminal must see it move, not wonder whether it hangs.

On a terminal (stderr a tty) a line is rewritten in place at most once a second; a
report written to a file by a timer or a pipe gets only the count at the end. Counts
only: nothing personal is ever written here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")
CLEAR = "\r\x1b[K"   # back to the line's start, and clear it


class Progress:
    def __init__(self, what: str, stream: TextIO | None = None,
                 live: bool | None = None) -> None:
        self.what = what
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.read = 0
        self.began = time.monotonic()
        self._shown = self.began

    def counted(self, items: Iterable[T]) -> Iterator[T]:
        """The items, counted as they pass."""
        for item in items:
            self.read += 1
            if self.live and not self.read % 4096 and time.monotonic() - self._shown >= 1:
                self._show()
            yield item

    def _show(self) -> None:
        self._shown = time.monotonic()
        self.stream.write(f"\r{self.what}: {self.read:,} events read, "
                          f"{self._shown - self.began:.0f} s")
        self.stream.flush()

    def counted_blocks(self, blocks: Iterable[list[T]]) -> Iterator[list[T]]:
        """The blocks of items, their items counted as they pass."""
        for block in blocks:
            self.read += len(block)
            if self.live and time.monotonic() - self._shown >= 1:
                self._show()
            yield block

    def done(self, rows: int) -> None:
        """The count when done: always, so a log shows what a run produced."""
        seconds = time.monotonic() - self.began
        read = f" from {self.read:,} events" if self.read else ""   # a lookup reads none
        self.stream.write(f"{CLEAR if self.live else ''}{self.what}: {rows:,} rows{read} "
                          f"in {seconds:.1f} s\n")
        self.stream.flush()
