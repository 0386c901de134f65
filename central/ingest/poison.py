"""A batch the database refuses because of one message in it: store the rest.

A payload can pass the contract's schemas and still be refused by the database (a
seq or session beyond a 64-bit integer: the schemas set no upper bound). Retrying the batch
would fail forever and hold every message in it unacknowledged. So when a batch fails
while the database itself answers (an empty transaction commits), the batch is halved
until each message that fails alone is quarantined with the database's reason; the rest
are stored. When the database does not answer (or answers read-only: a standby),
nothing is tried: DatabaseAway, and the batch stays unacknowledged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from central.store.connection import DatabaseAway
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


def write_sorting(store: EventStore, batch: Batch, now: Now) -> tuple[Written, int, int]:
    """Store the batch, or as much of it as the database takes: (what was written, events
    and statuses quarantined for the database's refusal). Raises DatabaseAway when the
    database does not answer, or answers read-only: nothing is refused then."""
    try:
        return store.write(batch, now()), 0, 0
    except DatabaseAway:
        raise
    except Exception as exc:   # the database's own errors differ by dialect
        failure = exc
    answers(store, now, failure)
    if len(batch.events) + len(batch.statuses) <= 1:
        reason = f"the database refused it: {failure}"[:500]
        log.warning("quarantined a message the database refused: %s", str(failure)[:200])
        written = store.write(as_quarantined(batch, reason), now())
        return written, len(batch.events), len(batch.statuses)
    parts = [write_sorting(store, part, now) for part in halves(batch)]
    return (Written(sum(w.new for w, _, _ in parts), [s for w, _, _ in parts for s in w.late]),
            sum(e for _, e, _ in parts), sum(s for _, _, s in parts))


def answers(store: EventStore, now: Now, failure: Exception) -> None:
    """An empty transaction commits, or DatabaseAway: a failure is the message's only
    when the database itself answers."""
    try:
        store.write(Batch(), now())
    except Exception as exc:
        raise DatabaseAway(" ".join(str(failure).split())[:300]) from exc
