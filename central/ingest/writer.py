"""A batch committed, whatever the database does meanwhile.

While the database does not answer (a restart, a failover) the same batch is tried
again, every 1, 2, 4 … 30 s, on a new connection: nothing is acknowledged out of turn
and the broker keeps the rest for the collector's session. A message the database
refuses while it answers is quarantined and the rest stored (poison.py).
"""

from __future__ import annotations

import logging
import threading

from central.ingest.metrics import Metrics
from central.ingest.poison import Now, size, write_sorting
from central.store.event_store import Batch, EventStore, Written

log = logging.getLogger("central.collector")

RETRY_MIN_S, RETRY_MAX_S = 1.0, 30.0


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
