"""The collector's open batch, and the order its acknowledgements leave in.

The MQTT client's network thread adds every message of a read to the open batch; each
flusher takes the batch whole (when it is full, or has waited BATCH_WAIT_S) and commits
it while the next fills. While too many messages wait unacknowledged the client reads no
more (`has_room`) and TCP holds the broker back: memory stays bounded even where a
broker sends beyond the Receive Maximum, and pings and acknowledgements go on. Batches
are numbered as taken, and `Turns` lets each acknowledge only after every earlier one
(MQTT 5.0, 4.6), whichever commits first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from central.store.event_store import Arrived, Batch

Ack = tuple[int, int]   # (connection, packet id); the id 0 at QoS 0


class Batcher:
    def __init__(self, batch_max: int, hold_max: int, wait_s: float) -> None:
        self.batch_max, self.hold_max, self.wait_s = batch_max, hold_max, wait_s
        self._lock = threading.Lock()      # the open batch; never held over the database
        self._ready = threading.Condition(self._lock)
        self._batch, self._acks = Batch(), list[Ack]()
        self._stopping = False
        self._taken = 0
        self.held_peak = 0   # the most messages ever held unacknowledged at once
        self.on_room: Callable[[], None] = lambda: None   # room again, after a take

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._acks)

    def add(self, events: list[Arrived], statuses: list[Arrived],
            quarantined: list[tuple[str, bytes, str]], acks: list[Ack]) -> None:
        """One read's messages into the open batch (never waits: the client asks
        `has_room` before it reads more)."""
        with self._lock:
            self._batch.events += events
            self._batch.statuses += statuses
            self._batch.quarantined += quarantined
            was = len(self._acks)
            self._acks += acks
            self.held_peak = max(self.held_peak, len(self._acks))
            if not was or len(self._acks) >= self.batch_max:
                self._ready.notify_all()

    def has_room(self) -> bool:
        """Fewer than `hold_max` messages wait: the client may hand over more."""
        with self._lock:
            return len(self._acks) < self.hold_max or self._stopping

    def take(self) -> tuple[Batch, list[Ack], int] | None:
        """The open batch, its acknowledgements and its ticket, once there is one (full,
        or waited for); None when stopping with nothing left."""
        with self._lock:
            self._ready.wait_for(lambda: self._acks or self._stopping)
            if not self._acks and self._stopping:
                return None
            if len(self._acks) < self.batch_max and not self._stopping:
                # Give the batch a moment to fill; a lone event waits `wait_s`.
                self._ready.wait_for(lambda: len(self._acks) >= self.batch_max
                                     or self._stopping, timeout=self.wait_s)
            batch, acks = self._batch, self._acks
            self._batch, self._acks = Batch(), []
            ticket, self._taken = self._taken, self._taken + 1
        self.on_room()
        return batch, acks, ticket

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._ready.notify_all()


class Turns:
    """Runs each ticket's action after every earlier ticket's, in ticket order."""

    def __init__(self) -> None:
        self._done = 0
        self._turn = threading.Condition()

    def in_turn(self, ticket: int, action: Callable[[], None]) -> None:
        with self._turn:
            self._turn.wait_for(lambda: self._done == ticket)
            try:
                action()
            finally:
                self._done += 1
                self._turn.notify_all()
