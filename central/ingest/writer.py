"""A batch committed, whatever the database does meanwhile, then settled in its turn.

The collector's flusher threads (`Flushers`) each take the open batch (batcher.py) and
commit it while the next fills; then, in the order the batches were taken whichever
commits first, each is handed to the collector to count and acknowledge: never an
acknowledgement before its commit. Into PostgreSQL two flushers commit at once, each on
a connection of its own; into SQLite one, on the collector's connection, under its lock.

While the database does not answer (a restart, a failover, a standby where the leader
was) the same batch is tried again, every 1, then 2 s, on a new connection: nothing
is acknowledged out of turn and the broker keeps the rest for the collector's session.
A message the database refuses while it answers is quarantined and the rest stored
(poison.py). A commit that does not return is said within a bound (commit_watch.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from central.ingest.batcher import Ack, Batcher, Turns
from central.ingest.commit_watch import CommitWatch
from central.ingest.metrics import Metrics
from central.ingest.poison import Now, size, write_sorting
from central.store.connection import DatabaseAway
from central.store.event_store import Batch, EventStore, Written
from central.store.open import open_store

log = logging.getLogger("central.collector")

# A failover under Patroni takes about its ttl (10 s, config/patroni/patroni.yml): tried
# every 1 s, then every 2 s, a held batch is stored within ~2 s of the leader's return.
# Tried at up to 30 s apart (1, 2, 4, 8 …) it was stored 15-17 s after a 9 s outage, and
# every 4 s, 3.4 s after a 7 s one (RELIABILITY.md). A connection attempt every 2 s
# from each flusher is nothing to a database.
RETRY_MIN_S, RETRY_MAX_S = 1.0, 2.0
SAY_AGAIN_S = 30.0   # an outage is said at its start, then this often, then at its end
PG_FLUSHERS = 2      # batches committed at once into PostgreSQL, each on its connection

# What the collector does with a committed batch, in its turn: counts it, acknowledges it.
Settle = Callable[[Batch, list[Ack], tuple[Written, int, int]], None]


class Outage:
    """One held batch's time without a database, said at its start, every SAY_AGAIN_S
    and at its end: a failover is a few lines, not one per retry."""

    def __init__(self, what: str) -> None:
        self.what, self.began, self.said = what, 0.0, 0.0

    def failed(self, exc: Exception) -> None:
        now = time.monotonic()
        why = " ".join(str(exc).split())[:300]
        if not self.began:
            self.began = self.said = now
            log.error("the database does not answer: %s is held unacknowledged (the broker "
                      "keeps the rest); trying again every %.0f-%.0f s: %s", self.what,
                      RETRY_MIN_S, RETRY_MAX_S, why,
                      exc_info=not isinstance(exc, DatabaseAway))
        elif now - self.said >= SAY_AGAIN_S:
            self.said = now
            log.error("the database still does not answer after %.0f s: %s is held: %s",
                      now - self.began, self.what, why)

    def over(self) -> None:
        if self.began:
            log.warning("the database answers again after %.0f s: %s stored",
                        time.monotonic() - self.began, self.what)


def write_until_stored(store: EventStore, lock: threading.Lock, batch: Batch, *,
                       now: Now, metrics: Metrics, halt: threading.Event, watch: CommitWatch
                       ) -> tuple[Written, int, int] | None:
    """The batch committed: (what was written, events and statuses quarantined for the
    database's refusal). None only when `halt` is set first."""
    delay = RETRY_MIN_S
    outage = Outage(f"a batch of {size(batch)} messages")
    while True:
        try:
            with lock, metrics.commit.time(), watch.waiting(outage.what,
                                                            store.commit_waits_for):
                result = write_sorting(store, batch, now)
            outage.over()
            return result
        except Exception as exc:   # DatabaseAway; a driver's error from a quarantine write
            outage.failed(exc)
        metrics.write_failures.inc()
        if halt.wait(delay):
            return None
        delay = min(delay * 2, RETRY_MAX_S)
        with lock, watch.waiting(f"reconnecting for {outage.what}", store.commit_waits_for):
            try:
                store.reconnect()
            except Exception as exc:   # still away: the next round says so, in its time
                outage.failed(exc)


class Flushers:
    """The flusher threads; a batch whose commit failed is never settled."""

    def __init__(self, store: EventStore, db: Path | str, *, db_lock: threading.Lock,
                 batcher: Batcher, metrics: Metrics, now: Now, settle: Settle,
                 watch: CommitWatch) -> None:
        """`store` is the collector's (shared with its gap checks under `db_lock`);
        PostgreSQL's flushers open connections of their own to `db`. `watch` times
        every wait on the database."""
        self.store, self.batcher, self.metrics, self.now = store, batcher, metrics, now
        self.watch = watch
        self._settle = settle
        self._turns = Turns()
        self._halt = threading.Event()   # set on stop: a batch waiting to retry gives up
        self._flushers = self._flushers_for(db, db_lock)

    def _flushers_for(self, db: Path | str, db_lock: threading.Lock) -> list[threading.Thread]:
        # PostgreSQL does one batch's work while another flusher formats and sends the
        # next, each on a connection of its own; SQLite has one writer at a time anyway.
        writers = ([(self._open(db), threading.Lock()) for _ in range(PG_FLUSHERS)]
                   if self.store.concurrent_writes else [(self.store, db_lock)])
        self._writers = [w for w, _ in writers if w is not self.store]
        return [threading.Thread(target=self._flush_loop, args=writer,
                                 name=f"collector-flush-{n}", daemon=True)
                for n, writer in enumerate(writers, start=1)]

    def _open(self, db: Path | str) -> EventStore:
        with self.watch.waiting("opening a flusher's connection", self.store.commit_waits_for):
            return open_store(str(db), writes=True)

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
                                        metrics=self.metrics, halt=self._halt,
                                        watch=self.watch)
        finally:
            self._turns.in_turn(ticket, lambda: None if result is None
                                else self._settle(batch, acks, result))
