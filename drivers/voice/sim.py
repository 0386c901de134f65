"""Voices that make no sound: one that remembers what it would have said, one silent."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable

log = logging.getLogger("drivers.voice")


class SimSpeaker:
    """Says nothing, logs `say: …` and keeps the last prompts for a tester to read.

    The prompts come from the station's table: masked, never a full name or number."""

    def __init__(self) -> None:
        self.said: deque[str] = deque(maxlen=256)

    def start(self, prepare: Iterable[str] = ()) -> None:
        pass

    def say(self, text: str) -> None:
        self.said.append(text)
        log.info("say: %s", text)

    def stop(self) -> None:
        pass


class Silent:
    """[voice] driver = "none": a lane that has no speaker."""

    def start(self, prepare: Iterable[str] = ()) -> None:
        pass

    def say(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass
