"""A batch committed, whatever the database does meanwhile, then settled in its turn.

The collector's flusher threads (`Flushers`) each take the open batch (batcher.py) and
commit it while the next fills; then, in the order the batches were taken whichever
commits first, each is handed to the collector to count and acknowledge: never an
acknowledgement before its commit. Into PostgreSQL two flushers commit at once, each on
a connection of its own; into SQLite one, on the collector's connection, under its lock.

While the database does not answer (a restart, a failover) the same batch is tried
again, every 1, 2, 4 … 30 s, on a new connection: nothing is acknowledged out of turn
and the broker keeps the rest for the collector's session. A message the database
refuses while it answers is quarantined and the rest stored (poison.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from central.ingest.batcher import Ack, Batcher, Turns
from central.ingest.metrics import Metrics
from central.ingest.poison import Now, size, write_sorting
from central.store.event_store import Batch, EventStore, Written
from central.store.open import open_store

log = logging.getLogger("central.collector")

RETRY_MIN_S, RETRY_MAX_S = 1.0, 30.0
PG_FLUSHERS = 2      # batches committed at once into PostgreSQL, each on its connection

# What the collector does with a committed batch, in its turn: counts it, acknowledges it.
Settle = Callable[[Batch, list[Ack], tuple[Written, int, int]], None]


def write_until_stored(store: EventStore, lock: threading.Lock, batch: Batch, *,
                       now: Now, metrics: Metrics, halt: threading.Event
                       ) -> tuple[Written, int, int] | None:
    """The batch committed: (what was written, events and statuses quarantined for the
    database's refusal). None only when `halt` is set first."""
    delay, messages = RETRY_MIN_S, size(batch)
    while True:
        with lock, metrics.commit.time():
            result = write_sorting(store, batch, now)
        if result is not None:
            if delay > RETRY_MIN_S:
                log.warning("the database answers again: a held batch of %d messages "
                            "stored", messages)
            return result
        metrics.write_failures.inc()
        log.error("the database does not answer: a batch of %d messages is held "
                  "unacknowledged (the broker keeps the rest); trying again in %.0f s",
                  messages, delay)
        if halt.wait(delay):
            return None
        delay = min(delay * 2, RETRY_MAX_S)
        with lock:
            try:
                store.reconnect()
            except Exception as exc:   # still away: the next round says so again
                log.warning("cannot reconnect to the database yet: %s", str(exc)[:200])


class Flushers:
    """The flusher threads; a batch whose commit failed is never settled."""

    def __init__(self, store: EventStore, db: Path | str, *, db_lock: threading.Lock,
                 batcher: Batcher, metrics: Metrics, now: Now, settle: Settle) -> None:
        """`store` is the collector's (shared with its gap checks under `db_lock`);
        PostgreSQL's flushers open connections of their own to `db`."""
        self.store, self.batcher, self.metrics, self.now = store, batcher, metrics, now
        self._settle = settle
        self._turns = Turns()
        self._halt = threading.Event()   # set on stop: a batch waiting to retry gives up
        self._flushers = self._flushers_for(db, db_lock)

    def _flushers_for(self, db: Path | str, db_lock: threading.Lock) -> list[threading.Thread]:
        # PostgreSQL does one batch's work while another flusher formats and sends the
        # next, each on a connection of its own; SQLite has one writer at a time anyway.
        writers = ([(open_store(str(db)), threading.Lock()) for _ in range(PG_FLUSHERS)]
                   if self.store.concurrent_writes else [(self.store, db_lock)])
        self._writers = [w for w, _ in writers if w is not self.store]
        return [threading.Thread(target=self._flush_loop, args=writer,
                                 name=f"collector-flush-{n}", daemon=True)
                for n, writer in enumerate(writers, start=1)]

    def start(self) -> None:
        for flusher in self._flushers:
            flusher.start()

    def stop(self) -> None:
        """After the batcher's stop: a batch waiting to retry gives up, each flusher ends."""
        self._halt.set()
        for flusher in self._flushers:
            flusher.join(5)

    def close(self) -> None:
        """The flushers' own connections; the collector closes its store itself."""
        for writer in self._writers:
            writer.close()

    def _flush_loop(self, store: EventStore, lock: threading.Lock) -> None:
        while (taken := self.batcher.take()) is not None:
            self._commit(store, lock, *taken)   # the next batch fills meanwhile

    def _commit(self, store: EventStore, lock: threading.Lock, batch: Batch,
                acks: list[Ack], ticket: int) -> None:
        """Commit the batch, then, in its turn, acknowledge it: never an acknowledgement
        before a commit."""
        self.metrics.batch.observe(len(acks))
        result = None
        try:
            result = write_until_stored(store, lock, batch, now=self.now,
                                        metrics=self.metrics, halt=self._halt)
        finally:
            self._turns.in_turn(ticket, lambda: None if result is None
                                else self._settle(batch, acks, result))
