"""A batch the database refuses because of one message in it: store the rest.

A payload can pass the contract's schemas and still be refused by the database (a
seq or session beyond a 64-bit integer: the schemas set no upper bound). Retrying the batch
would fail forever and hold every message in it unacknowledged. So when a batch fails
while the database itself answers (an empty transaction commits), the batch is halved
until each message that fails alone is quarantined with the database's reason; the rest
are stored. When the database does not answer, nothing is tried: the batch stays
unacknowledged, as before.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from central.store.event_store import Batch, EventStore, Written

log = logging.getLogger("central.collector")

Now = Callable[[], dt.datetime]


def size(batch: Batch) -> int:
    return len(batch.events) + len(batch.statuses) + len(batch.quarantined)


def halves(batch: Batch) -> tuple[Batch, Batch]:
    """Two batches holding the events and statuses of one (at least two), each with at
    least one; the quarantined go with the first."""
    items: list[tuple[str, Any]] = [("event", e) for e in batch.events]
    items += [("status", s) for s in batch.statuses]
    middle = len(items) // 2

    def made(part: list[tuple[str, Any]], quarantined: list[Any]) -> Batch:
        return Batch([x for kind, x in part if kind == "event"],
                     [x for kind, x in part if kind == "status"], quarantined)

    return made(items[:middle], batch.quarantined), made(items[middle:], [])


def as_quarantined(batch: Batch, reason: str) -> Batch:
    """The one event or status of `batch`, kept aside with why: as it arrived, on the
    topic it arrived on."""
    kept = [(m.topic, m.raw.encode(), reason) for m in (*batch.events, *batch.statuses)]
    return Batch(quarantined=[*batch.quarantined, *kept])


def write_sorting(store: EventStore, batch: Batch, now: Now) -> tuple[Written, int, int] | None:
    """Store the batch, or as much of it as the database takes: (what was written, events
    and statuses quarantined for the database's refusal), or None when the database does
    not answer."""
    try:
        return store.write(batch, now()), 0, 0
    except Exception as exc:   # the database's own errors differ by dialect
        failure = exc
    try:
        store.write(Batch(), now())
    except Exception:
        log.exception("could not store a batch of %d messages", size(batch))
        return None
    if len(batch.events) + len(batch.statuses) <= 1:
        reason = f"the database refused it: {failure}"[:500]
        log.warning("quarantined a message the database refused: %s", str(failure)[:200])
        try:
            written = store.write(as_quarantined(batch, reason), now())
        except Exception:
            log.exception("could not quarantine a refused message")
            return None
        return written, len(batch.events), len(batch.statuses)
    parts = []
    for part in halves(batch):
        done = write_sorting(store, part, now)
        if done is None:
            return None
        parts.append(done)
    return (Written(sum(w.new for w, _, _ in parts), [s for w, _, _ in parts for s in w.late]),
            sum(e for _, e, _ in parts), sum(s for _, _, s in parts))
