"""`report manifest --box BOX`: a transport box's tubes, for the lab that receives it.

Read from the lane's own events of the box and its tubes (box.closed, box.dispatched,
tube.sealed), found by their subject whatever day they fall on: the box's lane, each
tube with its sample count and sealing time, the box's counts, when it was closed and
handed over and to which courier's badge. No registration is read, so nothing personal
can be in it, and it needs no private key: a lab, or a courier's printout, can have it.
Times are the station's, or when central received the event where its clock was unset;
each says which beside it, from its own event (a lane's clock may be set between sealing
a tube and closing its box): `sealed_source` for each tube's sealing, `time_source` for
the box's closing, `dispatched_source` for its handover. A box id closed at two lanes
lists both, each with its lane, noted.
"""

from __future__ import annotations

from typing import Any, Literal

from central.errors import CentralError
from central.reports.projection import TimeSource
from central.store.event_store import SqlEventStore
from contract.events import BoxClosedEvent, BoxDispatchedEvent, Event


class NoSuchBox(CentralError, ValueError):
    """No station has closed the box asked for."""


def manifest_rows(store: SqlEventStore, box: str) -> list[dict[str, Any]]:
    events = store.box_events([box])
    closed = [e for e in events if isinstance(e, BoxClosedEvent)]
    if not closed:
        raise NoSuchBox(f"box {box}: no station has closed such a box (yet): check the id "
                        "on its label, or whether its lane has delivered its events "
                        "(report reconcile)")
    handed = {(e.site, e.station): e for e in events if isinstance(e, BoxDispatchedEvent)}
    sealed = store.tubes_sealed(tube for e in closed for tube in e.data.tubes)
    rows = []
    for event in closed:
        data, dispatched = event.data, handed.get((event.site, event.station))
        for tube in data.tubes:
            seal = sealed.get((event.site, event.station, tube))
            rows.append({
                "site": event.site, "station": event.station, "box": data.box, "tube": tube,
                "samples": seal.data.count if seal else "", "sealed_at": seal.ts if seal else "",
                "sealed_source": source(seal), "closed": event.ts,
                "box_tubes": data.tube_count, "box_samples": data.sample_count,
                "dispatched": dispatched.ts if dispatched else "",
                "courier": dispatched.data.courier if dispatched else "",
                "time_source": source(event), "dispatched_source": source(dispatched),
                "note": "box_collision" if len(closed) > 1 else ""})
    return rows


def source(event: Event | None) -> TimeSource | Literal[""]:
    """Whose clock an event's time is (none: no such event, no time)."""
    if event is None:
        return ""
    return "station" if event.clock_synced else "central"
