"""Recall: who was in a positive pool, and how to reach them, within minutes of the result.

`report positives` lists, for each tube whose results of the period include a positive
(混管阳性: everyone in it is called, kept at home, sampled again singly) or whose latest
result is invalid (无效: everyone in it is sampled again), every person still in the tube
after undo and void, with how to reach them: ordered positives first, oldest result
first, tube by tube, as a call team works. A tube's results are all its results: a
retest never hides a positive, and a later valid result clears an invalid one.

It reads only the listed tubes' events (by the indexed `subject` column) and their
stations' boxes, never the day's register: a city's day of 25 million events takes as
long as its handful of positive tubes do.

`report results` gives every person registered in the period with their tube's result
(for the negative-result notice), or "pending" while the tube has none.

`report resample` lists everyone whose swab is lost and who must come again: each person
of a tube voided at the lane in the period (CMD:VOID, open or sealed: the swabs went in),
then each person of a tube tested in the period whose latest result is invalid, with how
to reach them. `results` skips a voided tube's people and `positives` lists the invalid
among the positives: this is the one list of both. A person is listed once (voided in
one tube and invalid in another: both reasons), and not at all if sampled again later in
the period in a tube that stands and is not invalid (`again`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

from central.reports.opening import Persons
from central.reports.opening_pool import unsealed
from central.reports.period import Period
from central.reports.projection import (
    Projection,
    Projector,
    Registration,
    Station,
    Who,
    who,
)
from central.store.event_store import SqlEventStore
from central.store.lab_tables import TO_RECALL, StoredResult, Verdict
from contract import instant

log = logging.getLogger("central.recall")

URGENCY: dict[Verdict, int] = {result: rank for rank, result in enumerate(TO_RECALL)}


def deciding(results: list[StoredResult]) -> StoredResult | None:
    """The result that decides for a tube: its first positive if it has one (a retest
    never hides a positive), else its latest."""
    positive = [r for r in results if r.result == "positive"]
    if positive:
        return positive[0]
    return max(results, key=lambda r: r.tested_at) if results else None


def by_tube(results: Iterable[StoredResult]) -> dict[str, list[StoredResult]]:
    found: dict[str, list[StoredResult]] = defaultdict(list)
    for r in results:
        found[r.tube].append(r)
    return found


def to_recall(store: SqlEventStore, span: Period, until: dt.datetime | None = None
              ) -> dict[str, StoredResult]:
    """Tube → its deciding result, for each tube tested in the period that is to be
    recalled (positive, or invalid); as of `until`, where given (a result tested after
    it is not known yet)."""
    tested = store.tubes_to_recall(span.start, span.end)
    decided = {tube: deciding(results) for tube, results in by_tube(
        known_by(store.results_of(tested), until)).items()}
    return {tube: r for tube, r in decided.items() if r is not None and r.result in URGENCY}


def known_by(results: Iterable[StoredResult], until: dt.datetime | None
             ) -> list[StoredResult]:
    """The results tested by `until` (all of them, for None)."""
    return [r for r in results if until is None or instant(r.tested_at) <= until]


def positives(store: SqlEventStore, span: Period, persons: Persons) -> tuple[list[dict[str, Any]],
                                                         list[tuple[str, str, str]]]:
    """The recall rows, and the results they list (tube, lab, tested_at)."""
    recall = to_recall(store, span)
    people = registered_in(store, recall, persons)
    stations_of: dict[str, set[Station]] = defaultdict(set)
    held_in: dict[str, list[Registration]] = defaultdict(list)
    for reg in people:
        stations_of[reg.tube].add((reg.site, reg.station))
        held_in[reg.tube].append(reg)
    rows = []
    for tube, r in recall.items():
        lab_row = {"result": r.result, "tube": tube, "lab": r.lab, "tested_at": r.tested_at,
                   "ct_orf1ab": "" if r.ct_orf1ab is None else r.ct_orf1ab,
                   "ct_n": "" if r.ct_n is None else r.ct_n}
        held = held_in[tube]
        note = "collision" if len(stations_of[tube]) > 1 else ""
        rows += [{**reg.row(), **lab_row, "note": note} for reg in held]
        if not held:
            rows.append({**lab_row, "note": "empty"})
    rows.sort(key=lambda r: (URGENCY[r["result"]], r["tested_at"], r["tube"],
                             r.get("site", ""), r.get("station", ""), r.get("position", 0)))
    # DEBUG (--verbose): the list says as much, and a line among it misleads a clerk.
    log.debug("recall: %d tubes (%d positive), %d people", len(recall),
             sum(r.result == "positive" for r in recall.values()), len(people))
    return rows, [(tube, r.lab, r.tested_at) for tube, r in recall.items()]


def registered_in(store: SqlEventStore, tubes: Iterable[str],
                  persons: Persons) -> list[Registration]:
    """Everyone still in these tubes after undo and void, with their box."""
    wanted = set(tubes)
    events = store.tube_events(wanted)
    boxes = store.boxes_at((e.site, e.station) for e in events)
    merged = sorted([*events, *boxes], key=lambda e: (e.site, e.station, e.seq))
    day = unsealed(merged, store.form_data(), persons)
    projector = Projector(day.forms)
    for event in day.events:
        projector.apply(event)
    return [reg for reg in projector.regs if reg.tube in wanted and reg.status == "registered"]


def results_rows(store: SqlEventStore, stations: Iterable[tuple[Station, Projection]]
                 ) -> Iterator[list[dict[str, Any]]]:
    """Station by station: each valid registration with its tube's deciding result."""
    for _, p in stations:
        people = [r for r in p.registrations if r.status == "registered"]
        decided = {tube: deciding(results) for tube, results in by_tube(
            store.results_of({r.tube for r in people})).items()}
        rows = []
        for reg in people:
            found = decided.get(reg.tube)
            rows.append({**asdict(reg), "result": found.result if found else "pending",
                         "lab": found.lab if found else "",
                         "tested_at": found.tested_at if found else ""})
        yield rows


REASONS = ("voided", "invalid")   # the resample list's order: the lane's voids first


def resample_rows(store: SqlEventStore, stations: Iterable[tuple[Station, Projection]],
                  span: Period, persons: Persons) -> list[dict[str, Any]]:
    """The people of the period's voided tubes, then those of its invalid results: each
    once (both reasons where both), and not those sampled again since (`again`)."""
    regs = [reg for _, p in stations for reg in p.registrations]
    invalid = {tube: r for tube, r in to_recall(store, span).items() if r.result == "invalid"}
    lost = [(reg, {"reason": "voided"}) for reg in regs if reg.status == "voided"]
    lost += [(reg, {"reason": "invalid", "lab": invalid[reg.tube].lab,
                    "tested_at": invalid[reg.tube].tested_at})
             for reg in registered_in(store, invalid, persons)]
    latest = again(regs, set(invalid))
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for reg, why in lost:
        person = who(reg)
        later = latest.get(person) if person is not None else None
        if later is not None and later > instant(reg.time):
            continue   # swabbed again after: that swab stands
        key = person or (reg.tube, str(reg.position))
        if key in rows:   # voided in one tube, invalid in another: one row, both reasons
            rows[key] |= {**why, "reason": f"{rows[key]['reason']}+{why['reason']}"}
        else:
            rows[key] = {**asdict(reg), **why}
    found = sorted(rows.values(), key=lambda r: (
        REASONS.index(r["reason"].split("+")[0]), r.get("tested_at", ""), r["site"],
        r["station"], r["tube"], r["position"]))
    log.debug("resample: %d people", len(found))
    return found


def again(regs: Iterable[Registration], invalid: set[str]) -> dict[Who, dt.datetime]:
    """Re-sampled: a person's latest registration of the period that stands (not undone,
    its tube not voided) in a tube whose result is not invalid (pending, negative, or
    positive: positives calls them), by who they are (projection.who): its instant."""
    latest: dict[Who, dt.datetime] = {}
    for reg in regs:
        key = who(reg)
        if reg.status == "registered" and key is not None and reg.tube not in invalid:
            at = instant(reg.time)
            latest[key] = max(latest.get(key, at), at)
    return latest
