"""Retiring a collector from its `$share` group, for good (scaling three down to two, or
renaming an instance).

A member that merely stops keeps its persistent session on the broker, and with it its
place in the group: the broker goes on queuing that member's share of the stream until
the session expires (an hour by default), and only a gap replay from each station
brings it back. Found by running it: with a stopped member, two collectors of three
stored 13,333 of a 20,000-event burst.

Leaving resumes the member's session and then, in order: unsubscribes from the events
(the broker sends it nothing new and shares the stream among the others), stores what it
had queued and what was in flight until the stream has been quiet for a moment, and
disconnects with a session expiry of 0, so the broker forgets the session now.
"""

from __future__ import annotations

import logging
import threading
import time

from central.ingest.collector import Collector

log = logging.getLogger("central")

QUIET_S = 2.0


def leave(collector: Collector, timeout_s: float = 60.0, quiet_s: float = QUIET_S) -> int:
    """Retire a started, subscribed collector; how many events it stored meanwhile.
    Raises TimeoutError if the broker never confirms the unsubscription."""
    unsubscribed = threading.Event()
    collector.client.on_unsubscribe = lambda mid, reasons: unsubscribed.set()
    collector.client.unsubscribe(collector.events_topic)
    if not unsubscribed.wait(timeout_s):
        raise TimeoutError(f"the broker did not confirm unsubscribing {collector.client_id} "
                           f"from {collector.events_topic}")
    deadline, seen, quiet_since = time.monotonic() + timeout_s, -1, time.monotonic()
    while time.monotonic() < deadline:   # the queue and what was in flight, stored
        now_seen = collector.stored + collector.duplicates + collector.quarantined
        if now_seen != seen or collector.batcher.held:
            seen, quiet_since = now_seen, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            break
        time.sleep(0.1)
    stored = collector.stored
    collector.stop(end_session=True)
    log.info("%s left group %s: its session ended; %d events stored on the way out",
             collector.client_id, collector.group, stored)
    return stored
