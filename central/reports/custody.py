"""`report custody`: every box of the period from lane to lab, and what has gone astray.

A box's life: closed at the lane (its tubes and samples), handed to a courier
(box.dispatched), received at the lab (`receive`, `import-receipts`: the lab's own
count, or the tubes scanned out of it: `receive --scanned`). Each box shows all three,
and the age of its oldest sample at receipt (swabs are tested within 24 h). Flagged: a
lab count that differs from the box's; a box not received within `--max-transit` of
leaving; tubes sealed before the day's `--cutoff` (17:00, an hour before the seeds'
18:00) but not in a box dispatched by then; a receipt for a box no station has closed (a
misread label, or a lane not yet delivered). Where the desk scanned a box, each tube that
differs from its packing is a row after the box's: missing (packed in it, scanned out of
no box), extra (scanned out of it, packed in no box), or wrong_box (packed in one box,
scanned out of another: on both boxes' rows, with both boxes named).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from central.reports.period import Period
from central.reports.projection import Projection, Station
from central.site_facts import CUTOFF, MAX_TRANSIT, RESULT_DUE
from central.store.event_store import SqlEventStore
from contract import instant as moment


@dataclass(frozen=True)
class Rules:
    at: dt.datetime              # when the report is made (what has had time to arrive)
    max_transit: dt.timedelta = MAX_TRANSIT
    cutoff: dt.time = CUTOFF     # local, each day
    result_due: dt.timedelta = RESULT_DUE   # report labs: a received tube's result


def cutoff_of(ts: str, rules: Rules, zone: ZoneInfo) -> dt.datetime:
    """The dispatch cutoff of the local day a time falls on."""
    return dt.datetime.combine(moment(ts).astimezone(zone).date(), rules.cutoff, zone)


def custody_rows(store: SqlEventStore, stations: Iterable[tuple[Station, Projection]],
                 rules: Rules, span: Period) -> Iterator[list[dict[str, Any]]]:
    """Station by station, then the receipts of the period that match no box."""
    for _, p in stations:
        boxes = [b["box"] for b in p.boxes]
        receipts, received = store.receipts_of(boxes), store.received_tubes(boxes)
        rows = []
        for box in p.boxes:
            row = box_row(box, p, receipts.get(box["box"]), rules)
            tubes, scanned = received.get(box["box"], (set(), False))
            rows += [row, *(scan_rows(store, row, box["tubes"], tubes) if scanned else [])]
        yield rows + undispatched(p, rules, span.zone)
    yield unmatched(store, span)


def scan_rows(store: SqlEventStore, row: dict[str, Any], packed: Iterable[str],
              scanned: set[str]) -> list[dict[str, Any]]:
    """A box's tubes as scanned at the desk against its packing, a row each that differs;
    the box's row flagged with what they are and counted with what was scanned."""
    box, slip = row["id"], set(packed)
    missing, extra = sorted(slip - scanned), sorted(scanned - slip)
    arrived, home = store.scanned_where(missing), store.packed_where(extra)
    rows = []
    for tube in missing:
        elsewhere = " ".join(sorted(arrived.get(tube, set()) - {box}))
        rows.append(_tube(row, tube, "wrong_box" if elsewhere else "missing", box, elsewhere))
    for tube in extra:
        rows.append(_tube(row, tube, "wrong_box" if tube in home else "extra",
                          home.get(tube, ""), box))
    found = [code for code in ("missing", "extra", "wrong_box")
             if any(r["problems"] == code for r in rows)]
    problems = [p for p in row["problems"].split("; ") if p != "ok"] + found
    row.update(scanned_tubes=len(scanned), problems="; ".join(problems or ["ok"]))
    return rows


def _tube(row: dict[str, Any], tube: str, problem: str, packed_in: str,
          arrived_in: str) -> dict[str, Any]:
    return {"site": row.get("site", ""), "station": row.get("station", ""), "kind": "tube",
            "id": tube, "lab": row["lab"], "received": row["received"],
            "packed_in": packed_in, "arrived_in": arrived_in, "problems": problem}


def box_row(box: dict[str, Any], p: Projection, receipt: tuple[str, int, str] | None,
            rules: Rules) -> dict[str, Any]:
    times = [r.time for r in p.registrations if r.box == box["box"]]
    problems = []
    lab, counted, received = receipt or ("", "", "")
    if receipt and counted != box["tube_count"]:
        problems.append("count")
    if overdue(box, receipt, rules):
        problems.append("overdue")
    age = ""
    if times and received:
        age = f"{(moment(received) - moment(min(times))).total_seconds() / 3600:.1f}"
    return {"site": box["site"], "station": box["station"], "kind": "box", "id": box["box"],
            "closed": box["ts"], "tubes": box["tube_count"], "samples": box["sample_count"],
            "courier": box.get("courier", ""), "dispatched": box.get("dispatched", ""),
            "lab": lab, "received": received, "received_tubes": counted, "oldest_age_h": age,
            "problems": "; ".join(problems or ["ok"])}


def overdue(box: dict[str, Any], receipt: tuple[str, int, str] | None, rules: Rules) -> bool:
    """Not received, and longer on its way (since it left the lane, or was closed) than
    the transit bound."""
    left = box.get("dispatched") or box["ts"]
    return not receipt and rules.at - moment(left) > rules.max_transit


def undispatched(p: Projection, rules: Rules, zone: ZoneInfo,
                 cutoffs: dict[str, dt.datetime] | None = None) -> list[dict[str, Any]]:
    """Tubes sealed before their day's cutoff, once it has passed, and not in a box
    handed to a courier by then. `cutoffs`: the cutoffs found so far, by the UTC minute
    of a seal (its time's first 16 characters: every zone's offset today is whole minutes),
    kept across calls: a city's brief asks of 416,000 tubes, sealed in 1,440 minutes."""
    sent = {tube: box.get("dispatched", "") for box in p.boxes for tube in box["tubes"]}
    cutoffs = {} if cutoffs is None else cutoffs
    rows = []
    for (site, station, tube), sealed in sorted(p.sealed.items()):
        if not p.counts(sealed):
            continue
        cutoff = cutoffs.get(sealed[:16])
        if cutoff is None:
            cutoff = cutoffs[sealed[:16]] = cutoff_of(sealed, rules, zone)
        if rules.at < cutoff or moment(sealed) >= cutoff:
            continue
        dispatched = sent.get(tube, "")
        if dispatched and moment(dispatched) <= cutoff:
            continue
        rows.append({"site": site, "station": station, "kind": "tube", "id": tube,
                     "closed": sealed, "dispatched": dispatched,
                     "problems": "not_dispatched"})
    return rows


def unmatched(store: SqlEventStore, span: Period) -> list[dict[str, Any]]:
    """Receipts of the period for boxes no station has closed, each with the tubes
    scanned out of it, if they were, and where each was packed."""
    receipts = store.receipts_between(span.start, span.end)
    closed = store.boxes_closed(box for box, *_ in receipts)
    strays = [(box, lab, tubes, at) for box, lab, tubes, at in receipts if box not in closed]
    received = store.received_tubes(box for box, *_ in strays)
    rows = []
    for box, lab, tubes, at in strays:
        row = {"kind": "receipt", "id": box, "lab": lab, "received": at,
               "received_tubes": tubes, "problems": "unmatched"}
        scanned, by_scan = received.get(box, (set(), False))
        rows += [row, *(scan_rows(store, row, (), scanned) if by_scan else [])]
    return rows
